/**
 * The metadata record written beside every artifact (`<file>.metadata.json`), last, after the
 * artifact is durable. An artifact without a valid metadata record is not a backup: it is never
 * listed, restored or counted. The schema is versioned; readers reject what they do not know.
 */
import { z } from 'zod';

const table = z.object({
  schema: z.string(),
  name: z.string(),
  rows: z.number().int().nonnegative(),
  /** md5 of the first `sampleRows` rows ordered by primary key, as `row::text` joined by '\n'. */
  sampleMd5: z.string().optional(),
  sampleRows: z.number().int().nonnegative().optional(),
  /** Primary-key columns, in key order (what the sample is ordered by); absent in older metadata. */
  primaryKey: z.array(z.string()).optional(),
});
export type TableFacts = z.infer<typeof table>;

/** Fields every artifact's metadata shares with MinIO snapshot metadata. */
export const compressionFacts = z.object({ algorithm: z.enum(['zstd', 'gzip']), level: z.number().int() });
export const encryptionFacts = z.object({
  enabled: z.boolean(),
  recipient: z.string().optional(),
  fingerprint: z.string().optional(),
  encryptionSubkey: z.string().optional(),
});
export const runFacts = {
  startedAt: z.string(),
  finishedAt: z.string(),
  durationSeconds: z.number(),
  lifeboatVersion: z.string(),
  workflowId: z.string().optional(),
  runId: z.string().optional(),
};

const common = {
  format: z.literal('lifeboat/1'),
  key: z.string(),
  file: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  /** Bytes the producer wrote (before compression); absent in records older than the proof. */
  rawBytes: z.number().int().nonnegative().optional(),
  /** How the artifact was proven before it was written into place (lib/pipeline/artifact.ts). */
  proof: z.object({ method: z.enum(['decoded-file', 'test-decoded-stream', 'none']), decodedBytes: z.number().int().nonnegative(), compressedBytes: z.number().int().nonnegative() }).optional(),
  compression: compressionFacts,
  encryption: encryptionFacts,
  ...runFacts,
  server: z.object({ host: z.string(), port: z.number(), version: z.string(), versionNum: z.number(), systemIdentifier: z.string().optional() }).optional(),
};

export const logicalMetadata = z.object({
  ...common,
  kind: z.literal('logical'),
  tier: z.enum(['daily', 'weekly', 'monthly']),
  database: z.string(),
  dumpFormat: z.enum(['plain', 'custom']),
  /** The exported snapshot both pg_dump and the row counts used: counts are exact for the dump. */
  snapshot: z.string().optional(),
  tables: z.array(table),
  globalsKey: z.string().optional(),
});

export const globalsMetadata = z.object({ ...common, kind: z.literal('globals'), tier: z.enum(['daily', 'weekly', 'monthly']) });

export const baseMetadata = z.object({
  ...common,
  kind: z.literal('base'),
  label: z.string(),
  startLsn: z.string(),
  stopLsn: z.string(),
  timeline: z.number().int(),
  /** First and last WAL segment needed to make this base backup consistent. */
  startWal: z.string(),
  stopWal: z.string(),
});

export const walMetadata = z.object({
  ...common,
  kind: z.literal('wal'),
  segment: z.string(),
  /** sha256 and size of the raw segment (what restore_command must reproduce). */
  rawSha256: z.string(),
  rawBytes: z.number().int(),
});

/**
 * One file, directory or symbolic link of a configuration archive. `path` is where it lives on the
 * host (absolute); the archive holds it as `<root><path>`. Contents are never recorded, only their
 * sha256 (files), so a secret file's values stay inside the encrypted archive.
 */
export const configManifestEntry = z.object({
  path: z.string().regex(/^\//),
  type: z.enum(['file', 'directory', 'symlink']),
  size: z.number().int().nonnegative(),
  /** Permission bits (e.g. 0o640 = 416), as tar stores them. */
  mode: z.number().int().nonnegative(),
  uid: z.number().int().nonnegative(),
  gid: z.number().int().nonnegative(),
  /** Owner and group names on the backed-up host, when known. */
  owner: z.string().optional(),
  group: z.string().optional(),
  mtime: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  linkTarget: z.string().optional(),
});
export type ConfigManifestEntry = z.infer<typeof configManifestEntry>;

export const configMetadata = z.object({
  ...common,
  kind: z.literal('config'),
  stamp: z.string(),
  /** Every archive entry lives under this directory: `config_<stamp>`. */
  root: z.string(),
  /** The host whose files these are (LIFEBOAT_HOST of the worker that read them). */
  host: z.string(),
  /** CONFIG_BACKUP_PATHS and CONFIG_BACKUP_EXCLUDE of the run. */
  paths: z.array(z.string()),
  exclude: z.array(z.string()),
  /** Configured paths that did not exist, and other things the operator should know (never contents). */
  warnings: z.array(z.string()),
  /** sha256 of the manifest's canonical form: a later run with the same digest records "unchanged". */
  manifestSha256: z.string().regex(/^[0-9a-f]{64}$/),
  files: z.number().int().nonnegative(),
  fileBytes: z.number().int().nonnegative(),
  manifest: z.array(configManifestEntry),
});
export type ConfigMetadata = z.infer<typeof configMetadata>;

export const artifactMetadata = z.discriminatedUnion('kind', [logicalMetadata, globalsMetadata, baseMetadata, walMetadata, configMetadata]);
export type LogicalMetadata = z.infer<typeof logicalMetadata>;
export type GlobalsMetadata = z.infer<typeof globalsMetadata>;
export type BaseMetadata = z.infer<typeof baseMetadata>;
export type WalMetadata = z.infer<typeof walMetadata>;
export type ArtifactMetadata = z.infer<typeof artifactMetadata>;

/** Parse JSON text against a schema; undefined when it is not JSON or does not match. */
export function parseJsonWith<T>(schema: z.ZodType<T>, text: string): T | undefined {
  try {
    const result = schema.safeParse(JSON.parse(text));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

export function parseMetadata(text: string): ArtifactMetadata | undefined {
  return parseJsonWith(artifactMetadata, text);
}
