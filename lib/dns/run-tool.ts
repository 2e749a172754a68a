/**
 * One short-lived client run (nsupdate, dig, an operator's DNS script) through spawnTool: input on
 * stdin, stdout and stderr collected, a deadline, and the exit status returned rather than thrown,
 * so each provider classifies failures itself. A missing program is PrerequisiteMissing.
 */
import { PrerequisiteMissing } from '../errors';
import { killTool, spawnTool, ToolExit } from '../pipeline/child';

export interface ToolRun {
  /** Exit code; null when killed (then `timedOut` says whether by the deadline). */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  elapsedMs: number;
}

export interface RunToolOptions {
  stdin?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** How to get the program, for the PrerequisiteMissing hint. */
  installHint: string;
}

export async function runTool(command: string, args: string[], options: RunToolOptions): Promise<ToolRun> {
  const started = Date.now();
  const tool = spawnTool({ command, args, env: options.env }, { stdin: options.stdin === undefined ? 'ignore' : 'pipe' });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killTool(tool);
  }, options.timeoutMs);
  try {
    if (options.stdin !== undefined) {
      tool.child.stdin!.on('error', () => undefined); // a client that exits early closes its stdin; its exit status tells why
      tool.child.stdin!.end(options.stdin);
    }
    const chunks: Buffer[] = [];
    const reading = (async () => {
      for await (const chunk of tool.output!) chunks.push(chunk as Buffer);
    })();
    let code: number | null = 0;
    try {
      await tool.done;
    } catch (error) {
      if (error instanceof ToolExit && error.code === null && error.signal === null && /ENOENT/.test(error.stderrTail)) {
        throw new PrerequisiteMissing(`${command} is not installed`, options.installHint);
      }
      code = error instanceof ToolExit ? error.code : null;
    }
    await reading.catch(() => undefined);
    return { code, stdout: Buffer.concat(chunks).toString('utf8'), stderr: tool.stderr(), timedOut, elapsedMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}
