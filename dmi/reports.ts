// What a mapper's reports mean to the twin. Pure functions: a ReportDeviceStatus (or GetDevice's
// twins) → the twin update edgetwin applies, and a ReportDeviceStates → a state word.
//
// edgecore turns every reported Twin into a `twin/update` of {expected: observedDesired,
// actual: reported} (kubeedge/kubeedge edge/pkg/devicetwin/dmiserver/server.go
// CreateMessageTwinUpdate; docs/dmi.md). edgetwin takes `reported` as the actual value the same
// way; `observedDesired` is the desired value the mapper is working to, and becomes the twin's
// desired value only when the twin has none: a mapper still working to an older value (its
// UpdateDevice is on the way) must not undo a desired value set since. When it names the twin's
// current desired value it closes edgetwin's loop instead: `applied` once the reported value
// equals it (mapper-framework's write is setVisitor, with no ack of its own), or the ack that
// edgetwin's own DMI mapper carries in the metadata.

import { edgetwinError } from '../errors.js';
import type { DeviceTwinState, TwinPatch, TwinUpdateInput } from '../devicetwin/index.js';
import { sameReading, type DeviceModel } from '../schemas/index.js';
import type { PbTwin } from './messages.js';

/** Metadata keys edgetwin's DMI mapper adds to a reported twin (edgecore ignores metadata). */
export const ACK_METADATA = { state: 'edgetwin.io/ack', code: 'edgetwin.io/ack-code', reason: 'edgetwin.io/ack-reason' } as const;

const ACK_STATES = new Set(['applied', 'rejected', 'failed']);

type Patch = { -readonly [K in keyof TwinPatch]: TwinPatch[K] };

/**
 * The twin update for reported twins. Throws EDGETWIN_ERR_DMI_REQUEST for a twin without a
 * property name or a reported value (edgecore would crash on it, docs/dmi.md "Nil messages")
 * and EDGETWIN_ERR_ACK_INVALID for an unknown ack word. Values are checked by the twin's merge.
 */
export function twinUpdateOf(twins: readonly PbTwin[], state: DeviceTwinState | undefined, model: DeviceModel | undefined): TwinUpdateInput {
  if (twins.length === 0) throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', 'the report has no twins', [{ path: '/reportedDevice/twins', message: 'is empty' }]);
  const update: Record<string, Patch> = {};
  twins.forEach((t, i) => {
    const name = t.propertyName ?? '';
    if (name === '') throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', `twin ${i} has no propertyName`, [{ path: `/reportedDevice/twins/${i}/propertyName`, message: 'is empty' }]);
    if (!t.reported) throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', `twin "${name}" has no reported value`, [{ path: `/reportedDevice/twins/${i}/reported`, message: 'is missing' }]);
    const patch: Patch = { actual: t.reported.value ?? '' };
    const observed = t.observedDesired?.value ?? '';
    const property = model?.properties.get(name);
    const current = state?.twins[name];
    const desired = current?.type !== 'deleted' ? current?.expected?.value : undefined;
    const ackWord = t.reported.metadata?.[ACK_METADATA.state];
    if (ackWord !== undefined && !ACK_STATES.has(ackWord)) {
      throw edgetwinError('EDGETWIN_ERR_ACK_INVALID', `twin "${name}": ack "${ackWord}" is not applied, rejected or failed`, [{ path: `/reportedDevice/twins/${i}/reported/metadata`, message: 'unknown ack' }]);
    }
    if (observed !== '' && property) {
      const parsed = property.parse(observed);
      const observedWire = parsed.ok ? parsed.wire : observed;
      if (desired === undefined) {
        // As edgecore: the mapper's desired value becomes the twin's (checked by the merge).
        patch.expected = observed;
      } else if (observedWire === desired) {
        if (ackWord !== undefined) {
          const code = t.reported.metadata?.[ACK_METADATA.code];
          const reason = t.reported.metadata?.[ACK_METADATA.reason];
          patch.ack = { state: ackWord as 'applied' | 'rejected' | 'failed', value: desired, ...(code ? { code } : {}), ...(reason ? { reason } : {}) };
        } else if (current?.ack?.state !== 'applied') {
          const reported = property.parse(patch.actual ?? '');
          if (reported.ok && sameReading(property.type, desired, reported.wire)) patch.ack = { state: 'applied', value: desired };
        }
      }
    } else if (observed !== '' && !property) {
      patch.expected = observed; // the merge refuses the unknown property with its own code
    }
    update[name] = patch;
  });
  return update;
}

const STATES = new Set(['online', 'offline', 'ok', 'unknown', 'unhealthy']);

/**
 * The state word of a ReportDeviceStates, lower-cased as edgecore's device module does;
 * undefined for `disconnected`, which KubeEdge drops silently. Throws EDGETWIN_ERR_DMI_REQUEST
 * (empty) or EDGETWIN_ERR_STATE_INVALID.
 */
export function stateOf(word: string | undefined): string | undefined {
  const state = (word ?? '').trim().toLowerCase();
  if (state === '') throw edgetwinError('EDGETWIN_ERR_DMI_REQUEST', 'the state is empty', [{ path: '/state', message: 'is empty' }]);
  if (state === 'disconnected') return undefined;
  if (!STATES.has(state)) throw edgetwinError('EDGETWIN_ERR_STATE_INVALID', `state "${word}" is not one of online, offline, ok, unknown, unhealthy`, [{ path: '/state', message: 'unknown state' }]);
  return state;
}
