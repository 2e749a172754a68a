/**
 * Keeping secrets out of text that leaves the worker: log lines, alert messages, failure messages
 * that enter workflow history. The values come from the configuration (Config.secretValues); this
 * module imports nothing, so the logger, the notifiers and the config loader can all use it.
 */

/** Replace every configured secret value in a text with `***`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}
