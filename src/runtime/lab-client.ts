/**
 * The page's side of the training worker: typed, promise-based calls to the Lab (`client.call.x(...)`)
 * and event subscriptions. The page never imports tfjs for training; it only renders what comes back.
 */
import type { BackendInfo, LabApi, LabEvent, LabResponse } from './lab-protocol.js';
import { isResponse } from './lab-protocol.js';

type Promised<T> = { [K in keyof T]: T[K] extends (...a: infer A) => infer R ? (...a: A) => Promise<Awaited<R>> : never };
type EventOf<Ev, E> = Extract<Ev, { event: E }>;
/** The events every worker sends (worker-host.ts): backend changes and log lines. */
export type CommonEvent = Extract<LabEvent, { event: 'backend' | 'log' }>;

/** A worker's API: every one has `init(backend?, threads?)`. */
export interface WorkerApi {
  init(backend?: string, threads?: string): BackendInfo;
}

/**
 * A client for a training worker with API `Api` and events `Ev` (the 2D lab's by default; the MNIST
 * lab's with `LabClient.connect<MnistApi, MnistEvent>(worker)`).
 */
export class LabClient<Api extends WorkerApi = LabApi, Ev extends { event: string } = LabEvent> {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private handlers = new Map<string, Set<(e: Ev) => void>>();
  readonly call: Promised<Api>;
  backend: BackendInfo = { name: 'starting', fellBackFrom: [] };

  constructor(private readonly worker: Worker) {
    worker.onmessage = (e: MessageEvent<LabResponse | Ev>) => this.receive(e.data);
    worker.onerror = (e) => {
      const err = new Error(`training worker failed: ${e.message}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.emit({ event: 'log', message: err.message } as unknown as Ev);
    };
    this.call = new Proxy({} as Promised<Api>, {
      get: (_t, method: string) => (...args: unknown[]) => this.request(method, args),
    });
  }

  /** Starts the 2D lab's worker and its backend (`?backend=` of the page, or `backend`). */
  static start(backend?: string): Promise<LabClient> {
    return LabClient.connect<LabApi, LabEvent>(new Worker(new URL('./lab-worker.ts', import.meta.url), { type: 'module' }), backend);
  }

  /** Wraps a started worker and initialises its backend (`?backend=` of the page, or `backend`; the page's `?threads=`). */
  static async connect<A extends WorkerApi, E extends { event: string }>(worker: Worker, backend?: string): Promise<LabClient<A, E>> {
    const client = new LabClient<A, E>(worker);
    const params = new URLSearchParams(location.search);
    const requested = backend ?? params.get('backend') ?? undefined;
    const threads = params.get('threads') ?? undefined;
    client.backend = await (client.call.init as (b?: string, t?: string) => Promise<BackendInfo>)(requested, threads);
    client.onCommon('backend', (e) => (client.backend = e.backend));
    return client;
  }

  /** The events every worker sends, whatever its own event union: backend changes and log lines. */
  onCommon<K extends CommonEvent['event']>(event: K, handler: (e: EventOf<CommonEvent, K>) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    const h = handler as unknown as (e: Ev) => void; // the worker sends these two events in LabEvent's shape
    set.add(h);
    return () => set!.delete(h);
  }

  on<E extends Ev['event']>(event: E, handler: (e: EventOf<Ev, E>) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler as (e: Ev) => void);
    return () => set!.delete(handler as (e: Ev) => void);
  }

  terminate(): void {
    this.worker.terminate();
    const err = new Error('training worker stopped');
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private request(method: string, args: unknown[]): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const msg = { id, method, args };
      this.worker.postMessage(msg);
    });
  }

  private receive(m: LabResponse | Ev): void {
    if (isResponse(m as LabResponse)) {
      const r = m as LabResponse;
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(new Error(r.error));
      return;
    }
    this.emit(m as Ev);
  }

  private emit(e: Ev): void {
    for (const h of this.handlers.get(e.event) ?? []) h(e);
  }
}
