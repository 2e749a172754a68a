/**
 * Lifeboat's search attributes, set when a workflow is started (never from inside the workflow, so a
 * namespace without them registered cannot wedge a workflow). Only registered ones are sent.
 */
import type { Client } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType, TypedSearchAttributes, type SearchAttributePair } from '@temporalio/common';

let registered: Promise<Set<string>> | undefined;

async function registeredNames(client: Client): Promise<Set<string>> {
  registered ??= client.connection.operatorService
    .listSearchAttributes({ namespace: client.options.namespace })
    .then((r) => new Set(Object.keys(r.customAttributes ?? {})))
    .catch(() => new Set<string>());
  return registered;
}

export async function lifeboatSearchAttributes(client: Client, values: Record<string, string | undefined>): Promise<TypedSearchAttributes> {
  const names = await registeredNames(client);
  const pairs: SearchAttributePair[] = [];
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && names.has(name)) pairs.push({ key: defineSearchAttributeKey(name, SearchAttributeType.KEYWORD), value } as SearchAttributePair);
  }
  return new TypedSearchAttributes(pairs);
}
