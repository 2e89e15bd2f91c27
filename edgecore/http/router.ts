// The HTTP server's routing: a list of (method, path pattern, handler), patterns with `:name`
// segments. A handler gets the parsed request and returns a reply (or throws a coded error,
// which server.ts renders). No framework: edgetwin has a handful of endpoints.

import type { IncomingMessage } from 'node:http';
import { edgetwinError } from '../../errors.js';

export interface RouteRequest {
  readonly method: string;
  readonly url: URL;
  /** `:name` segments of the pattern, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly raw: IncomingMessage;
}

export interface Reply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Text, or bytes (the console's static files). */
  readonly body: string | Buffer;
}

export type Handler = (req: RouteRequest) => Reply | Promise<Reply>;

interface Route {
  readonly method: string;
  readonly segments: readonly string[];
  readonly handler: Handler;
}

export type Match =
  | { readonly kind: 'found'; readonly handler: Handler; readonly params: Record<string, string> }
  | { readonly kind: 'method'; readonly allow: readonly string[] }
  | { readonly kind: 'none' };

export class Router {
  readonly #routes: Route[] = [];

  /** Adds a GET route (HEAD is answered by it too, without the body). */
  get(pattern: string, handler: Handler): this {
    return this.add('GET', pattern, handler);
  }

  post(pattern: string, handler: Handler): this {
    return this.add('POST', pattern, handler);
  }

  put(pattern: string, handler: Handler): this {
    return this.add('PUT', pattern, handler);
  }

  delete(pattern: string, handler: Handler): this {
    return this.add('DELETE', pattern, handler);
  }

  private add(method: string, pattern: string, handler: Handler): this {
    this.#routes.push({ method, segments: pattern.split('/').slice(1), handler });
    return this;
  }

  /** The paths served, for the 404 answer. */
  get paths(): string[] {
    return [...new Set(this.#routes.map((r) => `/${r.segments.join('/')}`))];
  }

  /** Throws EDGETWIN_ERR_HTTP_REQUEST for a path that is not valid percent-encoding. */
  match(method: string, path: string): Match {
    const parts = path.split('/').slice(1);
    const allow = new Set<string>();
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, parts);
      if (params === undefined) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { kind: 'found', handler: route.handler, params };
      allow.add(route.method);
      if (route.method === 'GET') allow.add('HEAD');
    }
    return allow.size > 0 ? { kind: 'method', allow: [...allow] } : { kind: 'none' };
  }
}

function matchSegments(pattern: readonly string[], parts: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i]!;
    const got = parts[i]!;
    if (want.startsWith(':')) {
      if (got === '') return undefined;
      params[want.slice(1)] = decode(got);
    } else if (want !== got) return undefined;
  }
  return params;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw edgetwinError('EDGETWIN_ERR_HTTP_REQUEST', `the path segment ${JSON.stringify(segment.slice(0, 64))} is not valid percent-encoding`);
  }
}
