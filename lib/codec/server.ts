/**
 * The codec server (Temporal's protocol: POST `/encode` and `/decode`, body and answer
 * `{"payloads":[{"metadata":{...base64},"data":"base64"}]}`), so the Temporal UI and CLI show
 * decoded payloads and can send encoded ones (e.g. start the DR workflow from the UI).
 *
 * Access: with a token, a request must carry `Authorization: Bearer <token>` or put the token in
 * the path (`/t/<token>/decode`: the dev UI cannot add headers of its own, so its codec endpoint
 * is `http://host:port/t/<token>`). CORS answers only the configured origins (the UI's), with
 * credentials, and the headers the UI sends (`X-Namespace`, `Authorization`, `Content-Type`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Undefined: no authentication (bind to localhost only). */
  token?: string;
  /** Origins allowed by CORS, e.g. http://localhost:8233 (no trailing slash). */
  origins: readonly string[];
  /** Largest request body accepted. */
  maxBytes?: number;
  onRequest?: (info: { method: string; path: string; status: number; payloads: number }) => void;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

const same = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw Object.assign(new Error(`body larger than ${max} bytes`), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Route of a request path: the operation, and the token given in the path (if any). */
export function routeOf(path: string): { op?: 'encode' | 'decode'; pathToken?: string } {
  const m = /^(?:\/t\/([^/]+))?\/(encode|decode)\/?$/.exec(path.split('?')[0]!);
  return m ? { op: m[2] as 'encode' | 'decode', pathToken: m[1] ? decodeURIComponent(m[1]) : undefined } : {};
}

export function createCodecServer(options: CodecServerOptions): Server {
  const max = options.maxBytes ?? 16 * 1024 * 1024;
  return createServer((req, res) => {
    void handle(req, res).catch(() => undefined);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    let payloads = 0;
    const send = (status: number, body?: unknown): void => {
      if (!res.headersSent) {
        res.writeHead(status, body === undefined ? {} : { 'Content-Type': 'application/json' });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      }
      options.onRequest?.({ method, path: path.replace(/^\/t\/[^/]+/, '/t/***'), status, payloads });
    };
    const origin = req.headers.origin;
    if (origin && options.origins.includes(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Vary', 'Origin');
    }
    const { op, pathToken } = routeOf(path);
    if (method === 'OPTIONS') return send(op ? 204 : 404);
    if (!op) return send(404, { message: 'POST /encode or /decode' });
    if (method !== 'POST') return send(405, { message: 'POST only' });
    if (options.token !== undefined) {
      const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!((bearer && same(bearer, options.token)) || (pathToken && same(pathToken, options.token)))) return send(401, { message: 'missing or wrong bearer token' });
    }
    try {
      const body = JSON.parse((await readBody(req, max)).toString('utf8')) as { payloads?: JsonPayload[] };
      if (!Array.isArray(body.payloads)) return send(400, { message: 'body must be {"payloads": [...]}' });
      payloads = body.payloads.length;
      const input = body.payloads.map(fromJson);
      const output = op === 'encode' ? await options.codec.encode(input) : await options.codec.decode(input);
      return send(200, { payloads: output.map(toJson) });
    } catch (error) {
      const status = (error as { status?: number }).status ?? (error instanceof SyntaxError ? 400 : 422);
      return send(status, { message: (error as Error).message });
    }
  }
}
