import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderConfigDocs } from '../../lib/config/docs';
import { SETTINGS } from '../../lib/config/schema';

describe('docs/configuration.md', () => {
  it('is exactly what the schema generates (run `npx lifeboat config docs --write` after changing the schema)', () => {
    const checkedIn = readFileSync(join(__dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
    expect(checkedIn).toBe(renderConfigDocs());
  });

  it('documents every setting, and marks the secrets', () => {
    const text = renderConfigDocs();
    for (const s of SETTINGS) expect(text).toContain(`\`${s.env}\``);
    for (const name of ['PGPASSWORD', 'AWS_SECRET_ACCESS_KEY', 'MINIO_SOURCE_SECRET_KEY', 'SLACK_WEBHOOK']) {
      expect(text).toMatch(new RegExp(`\\| \`${name}\` \\|[^\\n]*\\| yes \\|`));
    }
  });
});
