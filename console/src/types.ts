// The HTTP API's JSON as the console reads it (docs/http-api.md; the server side is edgecore/http/).

export type Role = 'admin' | 'writer' | 'app' | 'mapper';

export interface Session {
  readonly authenticated: boolean;
  readonly user?: string | null;
  readonly role?: Role;
  readonly canWrite?: boolean;
  readonly csrf?: string;
  /** Not logged in: may this machine log in without a password? */
  readonly anonymous?: boolean;
}

export interface MapperHealth {
  readonly availability: string;
  readonly lastPollMs?: number;
  readonly polls: number;
  readonly pollFailures: number;
  readonly timeouts: number;
  readonly reconnects: number;
  readonly queued: number;
  readonly lastError?: { readonly code: string; readonly message: string };
}

export interface DeviceSummary {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly model: string;
  readonly description?: string;
  readonly protocol: string;
  readonly state: string;
  readonly lastSeen?: number;
  readonly openDeltas: number;
  readonly failedAcks: number;
  readonly version: number;
  readonly mapper?: MapperHealth;
}

export interface TwinValue {
  readonly value: string;
  readonly timestamp: number;
}

export interface TwinState {
  readonly expected?: TwinValue;
  readonly actual?: TwinValue;
  readonly type: string;
  readonly ack?: { readonly state: 'pending' | 'applied' | 'rejected' | 'failed'; readonly code?: string; readonly reason?: string; readonly timestamp: number };
}

export interface DeviceTwinState {
  readonly id: string;
  readonly version: number;
  readonly state: string;
  readonly lastOnline: string;
  readonly twins: Readonly<Record<string, TwinState>>;
}

export interface ConsoleEvent {
  readonly t: number;
  readonly device: string;
  readonly kind: 'reported' | 'desired' | 'delta' | 'result' | 'state' | 'error';
  readonly property?: string;
  readonly text: string;
  readonly code?: string;
}

/** A model property's JSON Schema (schemas/: JSON Schema with `unit`). */
export interface PropertySchema {
  readonly type?: 'number' | 'integer' | 'boolean' | 'string';
  readonly enum?: readonly unknown[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly multipleOf?: number;
  readonly pattern?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly readOnly?: boolean;
  readonly unit?: string;
  readonly description?: string;
  readonly title?: string;
}

export interface ModelSchema {
  readonly title?: string;
  readonly properties?: Readonly<Record<string, PropertySchema>>;
}

export interface DeviceDetail {
  readonly device: DeviceSummary;
  readonly model: { readonly name: string; readonly schema: ModelSchema };
  readonly twin: DeviceTwinState;
  readonly canWrite: boolean;
  readonly events: readonly ConsoleEvent[];
}

export interface ApiErrorBody {
  readonly error: { readonly code: string; readonly status: number; readonly message: string; readonly details?: ReadonlyArray<{ path?: string; code?: string; message: string }> };
}

export type ServerMessage =
  | { readonly type: 'hello'; readonly user: string | null; readonly role: Role }
  | { readonly type: 'devices'; readonly devices: readonly DeviceSummary[] }
  | { readonly type: 'change'; readonly device: DeviceSummary; readonly twin: DeviceTwinState; readonly events: readonly ConsoleEvent[] };
