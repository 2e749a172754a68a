/**
 * Lifeboat's search attributes, set when a workflow is started (the one exception: a backup's
 * `LifeboatBackupId`, known only once the dump is named, is upserted by the workflow, and only when
 * the start carried Lifeboat attributes — see workflows/ui-labels.ts). Only registered ones are sent,
 * each with the type the namespace registered, so a namespace without them cannot wedge a workflow.
 *
 * `LifeboatBucket` (Keyword) holds the bucket names joined by commas, as it always has; a registered
 * attribute's type cannot change on an existing namespace, so the list that filters one bucket
 * (`LifeboatBuckets = 'embeddings'`) is a second attribute, `LifeboatBuckets` (KeywordList).
 */
import type { Client } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType, TypedSearchAttributes, type SearchAttributePair } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

let registered: Promise<Map<string, number>> | undefined;

/** Registered custom attributes of the client's namespace, by name, with their IndexedValueType. */
async function registeredAttributes(client: Client): Promise<Map<string, number>> {
  registered ??= client.connection.operatorService
    .listSearchAttributes({ namespace: client.options.namespace })
    .then((r) => new Map(Object.entries(r.customAttributes ?? {}).map(([name, type]) => [name, Number(type)])))
    .catch(() => new Map<string, number>());
  return registered;
}

/** Forget what was listed (after registering attributes). */
export function forgetRegisteredAttributes(): void {
  registered = undefined;
}

const KEYWORD_LIST = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST;

/**
 * Typed search attributes from plain values: a list goes to a KeywordList attribute as a list, and
 * to a Keyword one joined with commas; undefined values and unregistered names are left out.
 */
export async function lifeboatSearchAttributes(client: Client, values: Record<string, string | readonly string[] | undefined>): Promise<TypedSearchAttributes> {
  const names = await registeredAttributes(client);
  const pairs: SearchAttributePair[] = [];
  for (const [name, value] of Object.entries(values)) {
    const type = names.get(name);
    if (value === undefined || type === undefined) continue;
    if (type === KEYWORD_LIST) pairs.push({ key: defineSearchAttributeKey(name, SearchAttributeType.KEYWORD_LIST), value: typeof value === 'string' ? [value] : [...value] });
    else pairs.push({ key: defineSearchAttributeKey(name, SearchAttributeType.KEYWORD), value: typeof value === 'string' ? value : value.join(',') });
  }
  return new TypedSearchAttributes(pairs);
}
