/**
 * The `command` environment provider: the operator's own scripts (a Terraform wrapper, a cloud
 * CLI, ...) create and remove the infrastructure. Each script is run with the environment name as
 * its only argument (an argument array, never a shell), with the worker's environment plus
 * LIFEBOAT_ENVIRONMENT_NAME and LIFEBOAT_ENVIRONMENT_ACTION (provision | teardown | describe):
 *
 *   DR_ENVIRONMENT_PROVISION_COMMAND <name>   prints the endpoints as one JSON object (endpoints.ts);
 *                                             idempotent: the same name prints the same endpoints
 *   DR_ENVIRONMENT_TEARDOWN_COMMAND <name>    removes it; exit 0 also when it is already gone
 *   DR_ENVIRONMENT_DESCRIBE_COMMAND <name>    optional: prints the endpoints, or `null` / nothing
 *                                             when it does not exist
 *
 * A non-zero exit or a timeout (DR_ENVIRONMENT_COMMAND_TIMEOUT_SECONDS) is retryable (ToolFailed);
 * output that is not valid endpoints is permanent, and the message names the bad field. Scripts'
 * stdout is read through lib/pipeline/child.ts (owned from the spawn) and capped at 1 MiB.
 */
import { InputInvalid, ToolFailed } from '../errors';
import type { Logger } from '../logger';
import { killTool, spawnTool, type ToolExit } from '../pipeline/child';
import { parseEndpoints } from './endpoints';
import { checkEnvironmentName } from './kinds';
import type { EnvironmentDescription, EnvironmentProvider, ProvisionedEnvironment, ProvisionOptions } from './provider';

const MAX_OUTPUT = 1 << 20;

export interface CommandEnvironmentOptions {
  provisionCommand: string;
  teardownCommand: string;
  describeCommand?: string;
  timeoutMs: number;
  logger?: Logger;
}

type Action = 'provision' | 'teardown' | 'describe';

const SETTING: Record<Action, string> = {
  provision: 'DR_ENVIRONMENT_PROVISION_COMMAND',
  teardown: 'DR_ENVIRONMENT_TEARDOWN_COMMAND',
  describe: 'DR_ENVIRONMENT_DESCRIBE_COMMAND',
};

export class CommandEnvironmentProvider implements EnvironmentProvider {
  readonly kind = 'command' as const;

  constructor(private readonly options: CommandEnvironmentOptions) {}

  async provision(name: string, options: ProvisionOptions = {}): Promise<ProvisionedEnvironment> {
    checkEnvironmentName(name);
    const stdout = await this.run('provision', this.options.provisionCommand, name, options.signal);
    return this.endpoints('provision', stdout, name);
  }

  async describe(name: string): Promise<EnvironmentDescription | undefined> {
    checkEnvironmentName(name);
    if (!this.options.describeCommand) {
      throw new InputInvalid(SETTING.describe, 'is not set, so the command provider cannot look an environment up without creating it', 'set DR_ENVIRONMENT_DESCRIBE_COMMAND, or call provision again (provision scripts are idempotent)');
    }
    const stdout = (await this.run('describe', this.options.describeCommand, name)).trim();
    if (stdout === '' || stdout === 'null') return undefined;
    return this.endpoints('describe', stdout, name);
  }

  async teardown(name: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    checkEnvironmentName(name);
    await this.run('teardown', this.options.teardownCommand, name, options.signal);
  }

  private endpoints(action: Action, stdout: string, name: string): ProvisionedEnvironment {
    const { environment, problem } = parseEndpoints(stdout, name);
    if (!environment) {
      throw new ToolFailed(`${SETTING[action]} printed no valid endpoints for "${name}": ${problem}`, true, 'make the script print one JSON object such as {"postgres":{"host":"10.0.0.5","port":5432},"minio":{"endpoint":"http://10.0.0.6:9000"}} on stdout, and its messages on stderr');
    }
    return environment;
  }

  /** Run one script to its end; its stdout (at most 1 MiB), or a classified failure naming the setting. */
  private async run(action: Action, command: string, name: string, signal?: AbortSignal): Promise<string> {
    signal?.throwIfAborted();
    const started = Date.now();
    const what = `${SETTING[action]} (${command} ${name})`;
    const tool = spawnTool({ command, args: [name], env: { ...process.env, LIFEBOAT_ENVIRONMENT_NAME: name, LIFEBOAT_ENVIRONMENT_ACTION: action } });
    const chunks: Buffer[] = [];
    let size = 0;
    let overflow = false;
    tool.output!.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT) {
        overflow = true;
        killTool(tool);
      } else {
        chunks.push(chunk);
      }
    });
    const ended = new Promise<void>((resolve) => tool.output!.once('end', resolve).once('error', () => resolve()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killTool(tool);
    }, this.options.timeoutMs);
    const onAbort = (): void => killTool(tool);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await tool.done;
      await ended;
    } catch (error) {
      const exit = error as ToolExit;
      if (overflow) throw tooMuchOutput(what);
      if (timedOut) throw new ToolFailed(`${what} was still running after ${Math.round(this.options.timeoutMs / 1000)} s and was killed`, false, 'raise DR_ENVIRONMENT_COMMAND_TIMEOUT_SECONDS or make the script faster');
      signal?.throwIfAborted();
      if (exit.code === null && exit.signal === null) throw new ToolFailed(`${what} could not be started: ${exit.stderrTail}`, true, `point ${SETTING[action]} at an existing executable file`);
      throw new ToolFailed(`${what} ${exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`}${exit.stderrTail ? `: ${lastLines(exit.stderrTail)}` : ''}`, false, 'read the script\'s messages above; it is run again when the step is retried');
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    if (overflow) throw tooMuchOutput(what);
    this.options.logger?.info({ action, environment: name, ms: Date.now() - started }, 'environment script finished');
    return Buffer.concat(chunks).toString('utf8');
  }
}

function tooMuchOutput(what: string): ToolFailed {
  return new ToolFailed(`${what} printed more than 1 MiB on stdout`, true, 'print only the endpoints JSON on stdout; write messages to stderr');
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ');
}
