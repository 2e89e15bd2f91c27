// The string form of an OPC UA NodeId (OPC 10000-6 §5.3.1.10, "NodeId"): `ns=<index>;` (absent
// means 0) then `i=<uint32>`, `s=<string>`, `g=<guid>` or `b=<base64>`. Parsed by hand, without
// node-opcua, so a malformed nodeID is refused when a device is bound, before anything loads or
// dials. `nsu=<uri>;` (the expanded form) is not accepted: use the namespace index.

export type NodeIdKind = 'i' | 's' | 'g' | 'b';

export interface ParsedNodeId {
  readonly namespace: number;
  readonly kind: NodeIdKind;
  /** The identifier as written (a number for `i=`). */
  readonly id: string | number;
  /** The canonical string node-opcua resolves, e.g. `ns=1;s=Temperature`. */
  readonly text: string;
}

const UINT16_MAX = 0xffff;
const UINT32_MAX = 0xffff_ffff;
// OPC 10000-3 §8.2.4: a String identifier is at most 4096 characters.
const MAX_STRING_ID = 4096;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DIGITS = /^(?:0|[1-9]\d{0,9})$/;

/** The NodeId, or a sentence saying what is wrong with the string. */
export function parseNodeId(input: string): ParsedNodeId | string {
  if (input.length === 0) return 'is empty';
  if (input.length > MAX_STRING_ID + 16) return `is longer than ${MAX_STRING_ID + 16} characters`;
  let rest = input;
  let namespace = 0;
  if (rest.startsWith('nsu=')) return 'uses nsu= (a namespace URI); write the namespace index instead, e.g. ns=2;s=Temperature';
  if (rest.startsWith('ns=')) {
    const semi = rest.indexOf(';');
    if (semi < 0) return 'has ns=<index> but no ";" before the identifier (e.g. ns=2;s=Temperature)';
    const ns = rest.slice(3, semi);
    if (!DIGITS.test(ns) || Number(ns) > UINT16_MAX) return `has namespace index "${ns}", not an integer 0..${UINT16_MAX}`;
    namespace = Number(ns);
    rest = rest.slice(semi + 1);
  }
  const kind = rest.slice(0, 2);
  const body = rest.slice(2);
  switch (kind) {
    case 'i=': {
      if (!DIGITS.test(body) || Number(body) > UINT32_MAX) return `has numeric identifier "${body}", not an integer 0..${UINT32_MAX}`;
      const id = Number(body);
      return { namespace, kind: 'i', id, text: `ns=${namespace};i=${id}` };
    }
    case 's=':
      if (body.length === 0) return 'has an empty string identifier';
      if (body.length > MAX_STRING_ID) return `has a string identifier longer than ${MAX_STRING_ID} characters`;
      return { namespace, kind: 's', id: body, text: `ns=${namespace};s=${body}` };
    case 'g=':
      if (!GUID.test(body)) return `has guid identifier "${body}", not xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`;
      return { namespace, kind: 'g', id: body, text: `ns=${namespace};g=${body}` };
    case 'b=':
      if (body.length === 0 || body.length % 4 !== 0 || !BASE64.test(body)) return `has opaque identifier "${body}", not base64`;
      return { namespace, kind: 'b', id: body, text: `ns=${namespace};b=${body}` };
    default:
      return 'has no identifier of the form i=<number>, s=<string>, g=<guid> or b=<base64> (e.g. ns=2;s=Temperature)';
  }
}
