/**
 * The page's side of the training worker: typed, promise-based calls to the Lab (`client.call.x(...)`)
 * and event subscriptions. The page never imports tfjs for training; it only renders what comes back.
 */
import type { BackendInfo, LabApi, LabEvent, LabRequest, LabResponse } from './lab-protocol.js';
import { isResponse } from './lab-protocol.js';

type Promised<T> = { [K in keyof T]: T[K] extends (...a: infer A) => infer R ? (...a: A) => Promise<Awaited<R>> : never };
type EventOf<E extends LabEvent['event']> = Extract<LabEvent, { event: E }>;

export class LabClient {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private handlers = new Map<string, Set<(e: LabEvent) => void>>();
  readonly call: Promised<LabApi>;
  backend: BackendInfo = { name: 'starting', fellBackFrom: [] };

  constructor(private readonly worker: Worker) {
    worker.onmessage = (e: MessageEvent<LabResponse | LabEvent>) => this.receive(e.data);
    worker.onerror = (e) => {
      const err = new Error(`training worker failed: ${e.message}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.emit({ event: 'log', message: err.message });
    };
    this.call = new Proxy({} as Promised<LabApi>, {
      get: (_t, method: string) => (...args: unknown[]) => this.request(method as keyof LabApi, args),
    });
  }

  /** Starts the worker and its backend (`?backend=` of the page, or `backend`). */
  static async start(backend?: string): Promise<LabClient> {
    const worker = new Worker(new URL('./lab-worker.ts', import.meta.url), { type: 'module' });
    const client = new LabClient(worker);
    const requested = backend ?? new URLSearchParams(location.search).get('backend') ?? undefined;
    client.backend = await client.call.init(requested ?? undefined);
    client.on('backend', (e) => (client.backend = e.backend));
    return client;
  }

  on<E extends LabEvent['event']>(event: E, handler: (e: EventOf<E>) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler as (e: LabEvent) => void);
    return () => set!.delete(handler as (e: LabEvent) => void);
  }

  terminate(): void {
    this.worker.terminate();
    const err = new Error('training worker stopped');
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private request(method: keyof LabApi, args: unknown[]): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const msg: LabRequest = { id, method, args };
      this.worker.postMessage(msg);
    });
  }

  private receive(m: LabResponse | LabEvent): void {
    if (isResponse(m)) {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
      return;
    }
    this.emit(m);
  }

  private emit(e: LabEvent): void {
    for (const h of this.handlers.get(e.event) ?? []) h(e);
  }
}
