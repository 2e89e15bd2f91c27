// Whether a DMI peer can be reached, from the state of a persistent gRPC channel to its socket.
// grpc-js leaves a channel IDLE after its connection closes; asking it to connect again on every
// change makes a dead peer show as TRANSIENT_FAILURE and a restarted one as READY.

import * as grpc from '@grpc/grpc-js';

type Channel = ReturnType<grpc.Client['getChannel']>;

export interface ReachabilityOptions {
  /** The channel to follow now (a new one after the peer's address changed). */
  readonly channel: () => Channel;
  /**
   * After a new session (a registration), how long the peer may take to open its socket before
   * it counts as down: a mapper-framework mapper listens only after starting its devices,
   * after MapperRegister (docs/dmi.md).
   */
  readonly graceMs: number;
  readonly onChange: (reachable: boolean) => void;
  /** Every time the channel is READY (the peer is back, or still there). */
  readonly onReady: () => void;
}

export class Reachability {
  private readonly o: ReachabilityOptions;
  private reachable: boolean | undefined;
  private everReady = false;
  private sessionStart = Date.now();
  private graceTimer?: NodeJS.Timeout;
  private watched?: Channel;
  private closed = false;

  constructor(options: ReachabilityOptions) {
    this.o = options;
  }

  get up(): boolean {
    return this.reachable === true;
  }

  /** A new session: the grace starts again. */
  newSession(): void {
    this.everReady = false;
    this.sessionStart = Date.now();
    clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => {
      if (this.o.channel().getConnectivityState(false) !== grpc.connectivityState.READY) this.set(false, true);
    }, this.o.graceMs);
    this.graceTimer.unref();
    this.watch();
  }

  /** Follows the current channel (once per channel). */
  watch(): void {
    if (this.closed) return;
    const channel = this.o.channel();
    if (this.watched === channel) {
      this.observe(channel.getConnectivityState(true));
      return;
    }
    this.watched = channel;
    const follow = (): void => {
      if (this.closed || this.o.channel() !== channel) return;
      const state = channel.getConnectivityState(true);
      this.observe(state);
      channel.watchConnectivityState(state, Date.now() + 30_000, follow);
    };
    follow();
  }

  /** A call found the peer unavailable. */
  failed(): void {
    this.set(false);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.graceTimer);
  }

  private observe(state: grpc.connectivityState): void {
    if (state === grpc.connectivityState.READY) {
      this.everReady = true;
      this.set(true);
      this.o.onReady();
    } else if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN) {
      this.set(false);
    }
  }

  private set(reachable: boolean, graceOver = false): void {
    if (reachable === this.reachable) return;
    // Not down until it was up once in this session, or the grace is over.
    if (!reachable && !this.everReady && !graceOver && Date.now() - this.sessionStart < this.o.graceMs) return;
    this.reachable = reachable;
    this.o.onChange(reachable);
  }
}
