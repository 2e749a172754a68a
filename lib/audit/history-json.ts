/**
 * History <-> `temporal workflow show -o json` JSON, as @temporalio/common's historyFromJSON /
 * historyToJSON do. Those fail in this install with "type must be a Type": npm nested two copies of
 * protobufjs 8 (under @temporalio/common and @temporalio/proto, because grpc's protobufjs 7 holds the
 * top level), and protojson from common's copy rejects the message type built by proto's copy. So
 * the SDK's functions are tried first and, on that error only, the same conversion runs with the
 * protojson of @temporalio/proto's own protobufjs. Drop the fallback once one copy is installed.
 */
import { createRequire } from 'node:module';
import type { temporal } from '@temporalio/proto';
import { historyFromJSON as sdkFromJSON, historyToJSON as sdkToJSON } from '@temporalio/common/lib/proto-utils';

type History = temporal.api.history.v1.IHistory;
interface ProtoJson {
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
  toJson(type: unknown, message: unknown): unknown;
}

const mismatch = (error: unknown): boolean => error instanceof TypeError && /type must be a Type/.test(error.message);

/** protojson and the History type from @temporalio/proto's own protobufjs (plain `require`, no ESM interop). */
function protoCopy(): { protojson: ProtoJson; historyType: unknown; fromObject(history: History): unknown } {
  const load = createRequire(require.resolve('@temporalio/proto'));
  const protojson = load('protobufjs/ext/protojson') as ProtoJson;
  const root = load('@temporalio/proto') as typeof temporal & { temporal: typeof temporal };
  const { patchProtobufRoot } = load('@temporalio/proto/lib/patch-protobuf-root') as { patchProtobufRoot(r: unknown): { lookupType(name: string): unknown } };
  return { protojson, historyType: patchProtobufRoot(root).lookupType('temporal.api.history.v1.History'), fromObject: (h) => root.temporal.api.history.v1.History.fromObject(h) };
}

/** Parse a history file's JSON (as written by `temporal workflow show -o json` or historyToJSON). */
export function historyFromJSON(json: unknown): History {
  try {
    return sdkFromJSON(json);
  } catch (error) {
    if (!mismatch(error)) throw error;
    const { protojson, historyType } = protoCopy();
    const loaded = protojson.fromJson(historyType, json, { ignoreUnknownFields: true });
    if (!loaded) throw new TypeError('invalid history');
    return loaded as History;
  }
}

/** A fetched history as the JSON text of `temporal workflow show -o json`. */
export function historyToJSON(history: History): string {
  try {
    return sdkToJSON(history);
  } catch (error) {
    if (!mismatch(error)) throw error;
    const { protojson, historyType, fromObject } = protoCopy();
    return JSON.stringify(protojson.toJson(historyType, fromObject(history)), null, 2);
  }
}
