// A small HTTP "device" for the example mapper's tests and demos: GET /state, PUT /state/<key>,
// and switches to make it silent or drop connections.

import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export class HttpJsonDevice {
  readonly state: Record<string, number | boolean | string>;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private silent = false;
  private readonly parked: ServerResponse[] = [];

  constructor(initial: Record<string, number | boolean | string>) {
    this.state = { ...initial };
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      if (this.silent) return void this.parked.push(res);
      if (req.method === 'GET' && req.url === '/state') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.state));
      const m = /^\/state\/([^/]+)$/.exec(req.url ?? '');
      if (req.method === 'PUT' && m) {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          this.state[decodeURIComponent(m[1]!)] = JSON.parse(body) as number | boolean | string;
          res.writeHead(204).end();
        });
        return;
      }
      res.writeHead(404).end();
    });
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  silence(): void {
    this.silent = true;
  }

  heal(): void {
    this.silent = false;
    for (const res of this.parked.splice(0)) res.destroy();
  }

  drop(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.heal();
    this.drop();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
