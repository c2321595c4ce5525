import { readFileSync } from 'node:fs';
import https from 'node:https';

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HttpsRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

/**
 * An https request trusting only the given CA (PEM path). Node's fetch cannot take a CA without undici's
 * dispatcher, which is not a dependency here.
 */
export function httpsRequest(url: string, ca: string, options: HttpsRequestOptions = {}): Promise<HttpsResponse> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, ca: readFileSync(ca), timeout: timeoutMs, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${options.method ?? 'GET'} ${url} timed out after ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end(options.body);
  });
}

export function httpsGet(url: string, ca: string): Promise<HttpsResponse> {
  return httpsRequest(url, ca);
}
