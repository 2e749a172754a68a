/**
 * MinIO access: a client built from an endpoint URL plus keys, a server-info probe through the
 * admin API, and classification of MinIO/S3 errors into retryable and permanent ones.
 */
import { Client as MinioClient } from 'minio';
import type { MinioEndpointConfig } from '../config/load';
import { AuthenticationFailed, ServiceUnavailable, type LifeboatError } from '../errors';
import { signRequest } from './sigv4';

export function createMinioClient(endpoint: MinioEndpointConfig): MinioClient {
  const url = new URL(endpoint.endpoint);
  const useSSL = url.protocol === 'https:';
  return new MinioClient({
    endPoint: url.hostname,
    port: url.port ? Number(url.port) : useSSL ? 443 : 80,
    useSSL,
    accessKey: endpoint.accessKey,
    secretKey: endpoint.secretKey ?? '',
  });
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);
const AUTH_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'XMinioAdminInvalidAccessKey', 'InvalidToken', 'ExpiredToken']);

/** Map an error from the minio/S3 SDKs or fetch to a LifeboatError, naming the endpoint. */
export function classifyObjectStoreError(error: unknown, endpoint: string): LifeboatError {
  const e = error as { code?: string; name?: string; Code?: string; cause?: { code?: string }; message?: string; $metadata?: { httpStatusCode?: number } };
  const code = e.code ?? e.Code ?? e.name ?? e.cause?.code ?? '';
  const message = e.message ?? String(error);
  if (AUTH_CODES.has(code) || e.$metadata?.httpStatusCode === 403) {
    return new AuthenticationFailed(`object storage at ${endpoint} refused the credentials (${code || 'HTTP 403'})`, 'check the access and secret key configured for this endpoint');
  }
  if (NETWORK_CODES.has(code) || NETWORK_CODES.has(e.cause?.code ?? '') || /fetch failed|socket hang up|ECONNREFUSED/.test(message)) {
    return new ServiceUnavailable(`object storage at ${endpoint} is unreachable (${code || message})`, 'check that the server is running and the endpoint is right');
  }
  return new ServiceUnavailable(`object storage at ${endpoint} failed: ${message}`);
}

export interface MinioServerInfo {
  endpoint: string;
  version: string;
  buckets: string[];
}

/** Server version (admin API) and bucket list; proves the endpoint and the keys work. */
export async function minioServerInfo(endpoint: MinioEndpointConfig): Promise<MinioServerInfo> {
  const url = new URL('/minio/admin/v3/info', endpoint.endpoint);
  let version = 'unknown';
  try {
    const headers = signRequest({ method: 'GET', url, accessKey: endpoint.accessKey, secretKey: endpoint.secretKey ?? '' });
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
    if (response.status === 403) throw Object.assign(new Error('admin API refused the credentials'), { code: 'AccessDenied' });
    if (response.ok) {
      const info = (await response.json()) as { servers?: { version?: string }[] };
      version = info.servers?.[0]?.version ?? 'unknown';
    }
    const buckets = await createMinioClient(endpoint).listBuckets();
    return { endpoint: endpoint.endpoint, version, buckets: buckets.map((b) => b.name).sort() };
  } catch (error) {
    throw classifyObjectStoreError(error, endpoint.endpoint);
  }
}
