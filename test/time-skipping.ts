/**
 * Temporal's time-skipping test server for workflow tests whose gates or timers matter (an approval
 * that waits 24 h runs in seconds). The SDK downloads the server's native build from
 * temporal.download, which an offline machine cannot reach; the same server is published on Maven
 * Central as a Java program (io.temporal:temporal-test-server), so where `java` and `mvn` are
 * installed we resolve it through Maven once and run it through a small wrapper script.
 *
 * Which server, first that applies:
 *  1. LIFEBOAT_TEST_SERVER: path of an executable test server (`<path> <port>` starts it).
 *  2. The Java server from Maven (needs `java` >= 11 and `mvn`), cached under
 *     $LIFEBOAT_TOOLS_DIR/../test-server (default ~/.cache/lifeboat/test-server).
 *  3. The SDK's own download (needs temporal.download to be reachable).
 * `timeSkippingServer()` says which, or why none can run (tests skip then, naming the reason).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';

/** The Java SDK release whose test server we run (any recent one speaks the same API). */
export const TEST_SERVER_VERSION = '1.31.0';

export type ServerChoice = { kind: 'path' | 'maven' | 'download'; path?: string } | { kind: 'none'; reason: string };

function cacheDir(): string {
  const tools = process.env.LIFEBOAT_TOOLS_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lifeboat', 'bin');
  return join(dirname(tools), 'test-server', TEST_SERVER_VERSION);
}

const onPath = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;

/** Resolve the Java test server and its dependencies through Maven; returns the wrapper script. */
function mavenServer(): string {
  const dir = cacheDir();
  const wrapper = join(dir, 'temporal-test-server');
  if (existsSync(wrapper)) return wrapper;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>lifeboat</groupId><artifactId>test-server</artifactId><version>1</version>
<dependencies><dependency><groupId>io.temporal</groupId><artifactId>temporal-test-server</artifactId><version>${TEST_SERVER_VERSION}</version></dependency></dependencies></project>\n`,
  );
  const classpathFile = join(dir, 'classpath.txt');
  const mvn = spawnSync('mvn', ['-q', '-B', 'dependency:build-classpath', '-Dmdep.includeScope=runtime', `-Dmdep.outputFile=${classpathFile}`], { cwd: dir, encoding: 'utf8', timeout: 900_000 });
  if (mvn.status !== 0 || !existsSync(classpathFile)) throw new Error(`mvn could not resolve io.temporal:temporal-test-server:${TEST_SERVER_VERSION}: ${(mvn.stdout + mvn.stderr).trim().slice(-500)}`);
  // The classpath of a project depending on the server: the server's jar and everything it needs.
  const classpath = readFileSync(classpathFile, 'utf8').trim();
  writeFileSync(`${wrapper}.tmp`, `#!/bin/sh\n# Temporal's time-skipping test server (Java), resolved by test/time-skipping.ts. Usage: $0 PORT\nexec java -cp '${classpath}' io.temporal.testserver.TestServer "$@"\n`);
  chmodSync(`${wrapper}.tmp`, 0o755);
  renameSync(`${wrapper}.tmp`, wrapper);
  return wrapper;
}

let choice: ServerChoice | undefined;
/** Which test server the tests will use (resolving the Maven one on first use). */
export function timeSkippingServer(): ServerChoice {
  if (choice) return choice;
  const path = process.env.LIFEBOAT_TEST_SERVER;
  if (path) choice = { kind: 'path', path };
  else if (onPath('java') && onPath('mvn')) {
    try {
      choice = { kind: 'maven', path: mavenServer() };
    } catch (error) {
      choice = { kind: 'none', reason: (error as Error).message };
    }
  } else choice = { kind: 'download' };
  return choice;
}

/** How often the server is started before giving up: the SDK waits only 5 s for it to answer. */
const START_ATTEMPTS = 3;

/**
 * A time-skipping environment on the chosen server (torn down by the caller). The SDK gives the
 * server 5 s to answer; a JVM starting on a loaded 2-core machine can take longer (seen in CI), so a
 * start that timed out is tried again (the second start finds the jars in the page cache).
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const server = timeSkippingServer();
  if (server.kind === 'none') throw new Error(`no time-skipping test server: ${server.reason}`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping(server.path ? { server: { executable: { type: 'existing-path', path: server.path } } } : {});
    } catch (error) {
      if (attempt >= START_ATTEMPTS || !/did not start within/.test((error as Error).message)) throw error;
      console.warn(`time-skipping test server did not start in time (attempt ${attempt} of ${START_ATTEMPTS}); starting it again`);
    }
  }
}
