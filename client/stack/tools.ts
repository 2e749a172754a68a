/**
 * Tool provisioning: builds the Temporal CLI and MinIO server from the Go module proxy and the
 * compiled archive_command from tools/wal-archive into a cache outside the clone, and installs
 * PostgreSQL 15, GnuPG, zstd and BIND 9 (bind9, bind9-dnsutils) from Debian, each only when missing.
 * The real Temporal server and its SQL tool (production topology only) are built on request
 * (`tools ensure --production`, `stack up --topology production`), never by default. Builds take
 * minutes, so progress is printed as it happens; a missing prerequisite (no Go, no apt-get, not
 * root) is a clear error that says what to install.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PrerequisiteMissing, StackFailed } from '../../lib/errors';
import { walArchiverBinaryName, walArchiverDir, walArchiverSourceDir } from '../../lib/lifeboat-bin';
import { findPgBin } from '../../lib/servers/binaries';
import {
  copySchemaFromModuleCache, findTemporalServer, TEMPORAL_SERVER_MODULES, TEMPORAL_SERVER_VERSION, temporalServerDir, type TemporalServerBinaries,
} from '../../lib/servers/temporal-server';

export const TEMPORAL_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
export const MINIO_MODULE = 'github.com/minio/minio@latest';

export interface Tools {
  temporal: string;
  minio: string;
  /** Directory with initdb, pg_ctl, postgres of the major version the stack runs. */
  pgBin: string;
  gpg: string;
  zstd: string;
  /** BIND 9's server (Debian bind9) for the stack's DNS zone. */
  named: string;
  /** BIND 9's key generator (bind9), for the zone's TSIG key. */
  tsigKeygen: string;
  /**
   * The compiled archive_command (tools/wal-archive) where the cluster's OS user can run it, or
   * undefined when Go is missing: archive_command then stays the Node verb (lib/lifeboat-bin.ts).
   */
  walArchiver: string | undefined;
}

type Progress = (line: string) => void;

function which(command: string): string | undefined {
  const result = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { encoding: 'utf8' });
  const path = result.stdout.trim();
  return result.status === 0 && path ? path : undefined;
}

export { findPgBin };

/** A BIND program: on PATH, or in /usr/sbin (Debian's place, off a non-root user's PATH). */
export function findSbin(command: string): string | undefined {
  return which(command) ?? (existsSync(join('/usr/sbin', command)) ? join('/usr/sbin', command) : undefined);
}

/** Run a build (`go install`, `go build`), rejecting with StackFailed and the output's tail when it fails. */
function runBuild(command: string, args: string[], options: { cwd?: string; env: NodeJS.ProcessEnv }, what: string, hint: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const onData = (chunk: Buffer): void => {
      tail = (tail + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new StackFailed(`${what} failed (exit ${code}):\n${tail}`, hint))));
  });
}

async function goInstall(module: string, binary: string, toolsDir: string, progress: Progress): Promise<string> {
  const target = join(toolsDir, binary);
  if (existsSync(target)) return target;
  const go = which('go');
  if (!go) {
    throw new PrerequisiteMissing(`go is not installed, so ${binary} cannot be built`, `install Go 1.22 or newer (https://go.dev/dl or apt-get install golang), or put a ${binary} binary at ${target}`);
  }
  mkdirSync(toolsDir, { recursive: true });
  // Build into a staging dir and rename, so an interrupted build never leaves a half binary behind.
  const staging = join(toolsDir, `.staging-${binary}-${process.pid}`);
  mkdirSync(staging, { recursive: true });
  progress(`building ${binary} from ${module} (takes a few minutes, once)`);
  const started = Date.now();
  const ticker = setInterval(() => progress(`  still building ${binary}... ${Math.round((Date.now() - started) / 1000)} s`), 30_000);
  try {
    await runBuild(go, ['install', module], { env: { ...process.env, GOBIN: staging, GOFLAGS: process.env.GOFLAGS ?? '-buildvcs=false' } },
      `go install ${module}`, 'check that the Go module proxy is reachable (GOPROXY) and retry');
  } finally {
    clearInterval(ticker);
  }
  renameSync(join(staging, binary), target);
  spawnSync('rm', ['-rf', staging]);
  progress(`built ${binary} in ${Math.round((Date.now() - started) / 1000)} s -> ${target}`);
  return target;
}

/**
 * The compiled archive_command: `go build` of tools/wal-archive (standard library only, a few
 * seconds) into the tool cache, named by the hash of its source (walArchiverBinaryName), so it is
 * built once per source change; then, as root (the cluster runs as postgres, which cannot traverse
 * /root), a root-owned 0755 copy in walArchiverDir(). Older builds are left
 * in place: a running cluster's archive_command may still name one until its next `stack up`.
 * Undefined (with a note) when Go or the source is missing.
 */
async function ensureWalArchiver(toolsDir: string, progress: Progress): Promise<string | undefined> {
  let source: string;
  try {
    source = walArchiverSourceDir();
  } catch {
    return undefined; // not a checkout (no bin/lifeboat.js above us): nothing to build
  }
  const name = walArchiverBinaryName(source);
  if (!name) return undefined;
  const cached = join(toolsDir, name);
  if (!existsSync(cached)) {
    const go = which('go');
    if (!go) {
      progress('go is not installed: archive_command stays `node bin/lifeboat.js wal archive` (about 0.2 s of CPU per WAL segment)');
      return undefined;
    }
    mkdirSync(toolsDir, { recursive: true });
    const staging = join(toolsDir, `.staging-${name}-${process.pid}`);
    progress(`building ${name} from ${source}`);
    try {
      await runBuild(go, ['build', '-trimpath', '-ldflags=-s -w', '-o', staging, '.'], { cwd: source, env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: process.env.GOFLAGS ?? '-buildvcs=false' } },
        `go build of ${source}`, `run \`go build .\` in ${source} to see the error; without the build, archive_command falls back to the Node verb`);
      renameSync(staging, cached);
    } finally {
      rmSync(staging, { force: true });
    }
  }
  const installed = join(walArchiverDir(), name);
  if (installed !== cached && !existsSync(installed)) {
    mkdirSync(walArchiverDir(), { recursive: true, mode: 0o755 });
    const temp = `${installed}.${process.pid}.tmp`;
    copyFileSync(cached, temp);
    chmodSync(temp, 0o755);
    renameSync(temp, installed);
    progress(`installed ${installed} (archive_command runs as the postgres OS user, which cannot reach ${toolsDir})`);
  }
  return installed;
}

function aptInstall(packages: string[], progress: Progress): void {
  if (!which('apt-get')) {
    throw new PrerequisiteMissing(`missing ${packages.join(', ')} and apt-get is not available`, `install ${packages.join(' ')} with your package manager`);
  }
  if (process.getuid?.() !== 0) {
    throw new PrerequisiteMissing(`missing ${packages.join(', ')}; installing needs root`, `run: sudo apt-get install -y ${packages.join(' ')}`);
  }
  progress(`installing ${packages.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
  if (result.status !== 0) {
    progress('apt-get install failed; refreshing the package index and trying again');
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    result = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
  }
  if (result.status !== 0) throw new PrerequisiteMissing(`apt-get could not install ${packages.join(', ')}`, 'check the Debian package mirror and retry');
}

/** Debian's chromium, the headless browser the tests drive (playwright-core) to check the Temporal UI. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Make sure every tool the stack and Lifeboat need is present; build or install what is missing.
 * `browser`: also Debian's chromium, for the tests that open the Temporal UI.
 */
export async function ensureTools(toolsDir: string, progress: Progress = (l) => process.stderr.write(`${l}\n`), options: { browser?: boolean } = {}): Promise<Tools> {
  const debian: string[] = [];
  if (options.browser && !existsSync(CHROMIUM)) debian.push('chromium');
  if (!findPgBin()) debian.push('postgresql-15', 'postgresql-client-15');
  if (!which('gpg')) debian.push('gnupg');
  if (!which('zstd')) debian.push('zstd');
  // BIND 9: the stack's DNS server for the DR runbook's switch, and its clients (nsupdate, dig).
  if (!findSbin('named') || !findSbin('tsig-keygen')) debian.push('bind9');
  if (!which('nsupdate') || !which('dig')) debian.push('bind9-dnsutils');
  if (debian.length > 0) aptInstall(debian, progress);
  const pgBin = findPgBin();
  if (!pgBin) throw new PrerequisiteMissing('PostgreSQL 15 server binaries not found', 'install postgresql-15 (Debian) so /usr/lib/postgresql/15/bin/initdb exists');
  // The Go builds at once: they share the module download and each is mostly single-threaded linking.
  const [temporal, minio, walArchiver] = await Promise.all([
    goInstall(TEMPORAL_MODULE, 'temporal', toolsDir, progress),
    goInstall(MINIO_MODULE, 'minio', toolsDir, progress),
    ensureWalArchiver(toolsDir, progress),
  ]);
  return {
    temporal, minio, pgBin, gpg: which('gpg') ?? 'gpg', zstd: which('zstd') ?? 'zstd', named: findSbin('named') ?? 'named', tsigKeygen: findSbin('tsig-keygen') ?? 'tsig-keygen', walArchiver,
  };
}

/**
 * The real Temporal server and its SQL tool for the production topology, built into
 * temporalServerDir() when missing (about 10 min on 2 cores, once), with the PostgreSQL schema
 * copied from the module source next to them.
 */
export async function ensureTemporalServer(progress: Progress = (l) => process.stderr.write(`${l}\n`), env: NodeJS.ProcessEnv = process.env): Promise<TemporalServerBinaries> {
  const dir = temporalServerDir(env);
  const found = findTemporalServer(env);
  if (found?.schemaDir) return found;
  if (!found) {
    progress(`building the Temporal server v${TEMPORAL_SERVER_VERSION} and its SQL tool into ${dir} (about 10 min on 2 cores, once)`);
    await Promise.all([goInstall(TEMPORAL_SERVER_MODULES[0], 'server', dir, progress), goInstall(TEMPORAL_SERVER_MODULES[1], 'sql', dir, progress)]);
  }
  const go = which('go');
  if (go && copySchemaFromModuleCache(go, dir)) progress(`copied the server's PostgreSQL schema into ${dir}/schema`);
  const built = findTemporalServer(env);
  if (!built) throw new StackFailed(`the Temporal server build left no server/sql binary in ${dir}`, 'run `lifeboat tools ensure --production` again and read its output');
  return built;
}
