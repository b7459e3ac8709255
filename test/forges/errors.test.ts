import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ForgeApiError, PayloadError, redactUrl } from '../../src/forges/errors.js';

describe('PayloadError', () => {
  it('names the event and each field path, array indexes included', () => {
    const schema = z.object({ issue: z.object({ number: z.number() }), items: z.array(z.object({ id: z.number() })) });
    const result = schema.safeParse({ issue: {}, items: [{ id: 'x' }] });
    if (result.success) throw new Error('expected a failure');
    const error = PayloadError.fromZod('issues.labeled', result.error);
    expect(error.message).toBe(
      'issues.labeled: issue.number: expected number, received undefined\nissues.labeled: items[0].id: expected number, received string',
    );
    expect(error.event).toBe('issues.labeled');
  });
});

describe('ForgeApiError', () => {
  it('keeps status, method and a URL without credentials', () => {
    const error = new ForgeApiError(401, 'GET', 'https://user:pw@gitlab.example.com/api/v4/projects?private_token=glpat-1&page=2', '401 Unauthorized');
    expect(error).toMatchObject({ status: 401, method: 'GET' });
    expect(error.url).toBe('https://gitlab.example.com/api/v4/projects?private_token=REDACTED&page=2');
    expect(error.message).toBe(`GET ${error.url} failed with 401: 401 Unauthorized`);
    expect(error.message).not.toMatch(/glpat-1|pw@/);
  });

  it('redacts access_token and jwt query parameters', () => {
    expect(redactUrl('https://x.example/a?access_token=abc&jwt=def&q=1')).toBe('https://x.example/a?access_token=REDACTED&jwt=REDACTED&q=1');
  });
});
