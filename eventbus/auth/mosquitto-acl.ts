// A mosquitto ACL file (mosquitto.conf `acl_file`, format in mosquitto.conf(5)) that gives each
// user of an edgetwin users file the rights its role has on the embedded broker (acl.ts,
// docs/security.md), for external mode, where authentication and ACLs are the outside broker's.
//
// What a topic ACL can and cannot say, compared with acl.ts:
// - mosquitto ACLs are topic patterns, with no device registry: a mapper's protocol-scoped
//   rights are expanded here to the devices of those protocols in the manifests given, so the
//   file is regenerated when devices change (mosquitto re-reads it on SIGHUP).
// - They cannot see payloads: which changes a twin update may make (a mapper reports, a writer
//   sets desired values: TWIN_CHANGES) is not enforced; a writer may also report actual values
//   and a mapper set desired values of its own devices.
// - mosquitto 2.0 grants a SUBSCRIBE and filters each delivered message by `read`, so a denied
//   subscription is silent (no SUBACK 0x80); a denied PUBLISH is acknowledged and dropped
//   (MQTT 3.1.1 §3.3.5 allows this; under MQTT 5 the PUBACK says 0x87, not authorized).

import { DATA_PREFIX, DEVICE_PREFIX, NODE_PREFIX, type DeviceTopicKind } from '../topics.js';
import type { UserEntry } from './users.js';

export interface MosquittoAclInput {
  readonly users: ReadonlyMap<string, UserEntry>;
  readonly nodeName: string;
  /** The devices of the node, with their protocolName (from the Device manifests). */
  readonly devices: ReadonlyArray<{ readonly id: string; readonly protocol?: string }>;
  /** The user edgetwin itself connects as (mqtt.external.url); omitted: no entry for it. */
  readonly twinUser?: string;
}

export interface MosquittoAcl {
  readonly text: string;
  /** What the file could not express for some user (also written into it as comments). */
  readonly notes: readonly string[];
}

const MAPPER_WRITES: readonly DeviceTopicKind[] = ['twin/update', 'state/update', 'twin/get'];
const MAPPER_READS: readonly DeviceTopicKind[] = ['twin/update/delta', 'twin/update/result', 'twin/get/result', 'state/update/result'];
const APP_READS: readonly DeviceTopicKind[] = ['twin/update/result', 'twin/update/delta', 'twin/update/document', 'twin/get/result', 'state/update/result'];

/** The device levels of a topic: one device, or every device (`+/+`). */
type Scope = string;
const EVERY_DEVICE: Scope = '+/+';

function node(nodeName: string, kind: string): string {
  return `${NODE_PREFIX}${nodeName}/${kind}`;
}

function membership(nodeName: string): string[] {
  return [`topic write ${node(nodeName, 'membership/get')}`, `topic read ${node(nodeName, 'membership/get/result')}`, `topic read ${node(nodeName, 'membership/updated')}`];
}

function deviceLines(scopes: readonly Scope[], access: 'read' | 'write', kinds: readonly DeviceTopicKind[]): string[] {
  return scopes.flatMap((s) => kinds.map((k) => `topic ${access} ${DEVICE_PREFIX}${s}/${k}`));
}

function dataLines(scopes: readonly Scope[], access: 'read' | 'write'): string[] {
  return scopes.map((s) => `topic ${access} ${DATA_PREFIX}${s}/data/update`);
}

/** The rules of one user; `notes` collects what could not be expressed. */
function userRules(name: string, entry: UserEntry, input: MosquittoAclInput, notes: string[]): string[] {
  const { nodeName } = input;
  switch (entry.role) {
    case 'admin':
      // `#` does not match topics starting with `$` [MQTT-4.7.2-1]: KubeEdge's are named too.
      return ['topic readwrite #', 'topic readwrite $hw/#', 'topic readwrite $ke/#'];
    case 'mapper': {
      const protocols = new Set(entry.protocols ?? []);
      const ids = new Set(entry.devices ?? []);
      for (const d of input.devices) if (d.protocol !== undefined && protocols.has(d.protocol)) ids.add(d.id);
      if (ids.size === 0) {
        const note = `${name}: no device of protocols ${[...protocols].join(', ') || '(none)'} in the manifests given and no devices listed: no device rights`;
        notes.push(note);
        return [`# ${note}`, ...membership(nodeName)];
      }
      const scopes = [...ids].sort();
      return [...deviceLines(scopes, 'write', MAPPER_WRITES), ...dataLines(scopes, 'write'), ...deviceLines(scopes, 'read', MAPPER_READS), ...membership(nodeName)];
    }
    case 'app':
    case 'writer': {
      const scopes = entry.devices && entry.devices.length > 0 ? [...entry.devices].sort() : [EVERY_DEVICE];
      const writes: DeviceTopicKind[] = entry.role === 'writer' ? ['twin/update', 'twin/get'] : ['twin/get'];
      return [...deviceLines(scopes, 'write', writes), ...deviceLines(scopes, 'read', APP_READS), ...dataLines(scopes, 'read'), ...membership(nodeName)];
    }
  }
}

/** The twin's own rights: it reads every request and writes every answer (and its in-process mappers' reports). */
function twinRules(nodeName: string): string[] {
  return [`topic readwrite ${DEVICE_PREFIX}#`, `topic readwrite ${NODE_PREFIX}${nodeName}/#`, `topic write ${DATA_PREFIX}+/+/data/update`];
}

export function mosquittoAcl(input: MosquittoAclInput): MosquittoAcl {
  const notes: string[] = [];
  const blocks: string[] = [];
  if (input.twinUser !== undefined) {
    blocks.push([`# edgetwin itself (mqtt.external.url user)`, `user ${input.twinUser}`, ...twinRules(input.nodeName)].join('\n'));
  }
  for (const [name, entry] of [...input.users].sort(([a], [b]) => a.localeCompare(b))) {
    if (name === input.twinUser) continue;
    const scope = [...(entry.protocols ?? []).map((p) => `protocol ${p}`), ...(entry.devices ?? [])].join(', ');
    blocks.push([`# ${name}: ${entry.role}${scope ? ` (${scope})` : ''}`, `user ${name}`, ...userRules(name, entry, input, notes)].join('\n'));
  }
  const header = [
    `# mosquitto ACL for edgetwin node ${input.nodeName}, generated by \`edgetwin acl mosquitto\`.`,
    '# Roles as in edgetwin docs/security.md. Not expressible as topic rules: which twin changes an',
    '# update may make (a writer may also report actual values, a mapper set desired values of its',
    '# devices); mapper rights by protocol are expanded to the devices of the manifests given, so',
    '# regenerate this file when devices change and send mosquitto SIGHUP.',
    '# Clients without a `user` entry below (anonymous ones included) get no access at all.',
  ];
  return { text: `${[header.join('\n'), ...blocks].join('\n\n')}\n`, notes };
}
