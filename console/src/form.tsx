// The desired-value form, generated from the device's JSON Schema model: enum → select,
// boolean → switch, number/integer → input with range, step and unit, strings with their
// pattern; readOnly properties are not offered. It validates in the browser with ajv against the
// model schema the server uses, and shows the server's coded refusal if it still refuses.

import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import { useMemo, useState } from 'preact/hooks';
import { api, ApiError } from './api';
import type { DeviceTwinState, ModelSchema, PropertySchema } from './types';

const ajv = new Ajv2020({ allErrors: true, strict: false });
const compiled = new WeakMap<object, ValidateFunction>();

function validatorFor(schema: ModelSchema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    // The model's $id would clash when a second device of the same model is opened.
    const { $id: _id, ...rest } = schema as ModelSchema & { $id?: string };
    v = ajv.compile(rest);
    compiled.set(schema, v);
  }
  return v;
}

export function writable(schema: ModelSchema): Array<[string, PropertySchema]> {
  return Object.entries(schema.properties ?? {}).filter(([, p]) => p.readOnly !== true);
}

/** The twin's wire string as the form's value. */
function formValue(p: PropertySchema, wire: string | undefined): string | boolean {
  if (p.type === 'boolean') return wire === 'true';
  return wire ?? '';
}

/** The form's value as the JSON value ajv and the server check. */
function typed(p: PropertySchema, v: string | boolean): unknown {
  if (typeof v === 'boolean') return v;
  if ((p.type === 'number' || p.type === 'integer') && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return v;
}

function stepOf(p: PropertySchema): string {
  if (p.multipleOf !== undefined) return String(p.multipleOf);
  return p.type === 'integer' ? '1' : 'any';
}

function rangeText(p: PropertySchema): string {
  const lo = p.minimum ?? p.exclusiveMinimum;
  const hi = p.maximum ?? p.exclusiveMaximum;
  const unit = p.unit ? ` ${p.unit}` : '';
  if (lo !== undefined && hi !== undefined) return `${lo} to ${hi}${unit}`;
  if (lo !== undefined) return `at least ${lo}${unit}`;
  if (hi !== undefined) return `at most ${hi}${unit}`;
  return p.unit ?? '';
}

export function DesiredForm(props: { id: string; schema: ModelSchema; twin: DeviceTwinState }): preact.JSX.Element {
  const fields = useMemo(() => writable(props.schema), [props.schema]);
  const [edits, setEdits] = useState<Record<string, string | boolean>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [status, setStatus] = useState<{ kind: 'ok' | 'error'; text: string } | undefined>();
  const [busy, setBusy] = useState(false);
  const current = (name: string, p: PropertySchema): string | boolean => {
    const t = props.twin.twins[name];
    return formValue(p, t?.expected?.value ?? t?.actual?.value);
  };
  const value = (name: string, p: PropertySchema): string | boolean => (name in edits ? edits[name]! : current(name, p));
  const edit = (name: string, v: string | boolean): void => {
    setEdits({ ...edits, [name]: v });
    if (errors[name]) {
      const { [name]: _gone, ...rest } = errors;
      setErrors(rest);
    }
  };

  const submit = async (): Promise<void> => {
    setStatus(undefined);
    const values: Record<string, unknown> = {};
    for (const [name, p] of fields) {
      if (!(name in edits) || edits[name] === current(name, p)) continue;
      values[name] = typed(p, edits[name]!);
    }
    if (Object.keys(values).length === 0) {
      setStatus({ kind: 'error', text: 'Nothing changed.' });
      return;
    }
    const validate = validatorFor(props.schema);
    if (!validate(values)) {
      const found: Record<string, string> = {};
      for (const e of validate.errors ?? ([] as ErrorObject[])) {
        const name = e.instancePath.split('/')[1] ?? '';
        found[name] ??= `${name} ${e.message ?? 'is not valid'}`;
      }
      setErrors(found);
      setStatus({ kind: 'error', text: 'Not sent: fix the values marked.' });
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      await api.setDesired(props.id, values);
      setEdits({});
      setStatus({ kind: 'ok', text: `Sent ${Object.keys(values).join(', ')}; waiting for the device to apply it.` });
    } catch (err) {
      setStatus({ kind: 'error', text: err instanceof ApiError ? `Refused by edgetwin: ${err.code}: ${err.message}` : String(err) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      class="desired"
      noValidate
      aria-labelledby="desired-heading"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h2 id="desired-heading">Set desired values</h2>
      {fields.map(([name, p]) => {
        const fieldId = `field-${name}`;
        const hintId = `${fieldId}-hint`;
        const errId = `${fieldId}-error`;
        const v = value(name, p);
        const invalid = errors[name] !== undefined;
        const describedBy = `${hintId}${invalid ? ` ${errId}` : ''}`;
        let control: preact.JSX.Element;
        if (p.enum) {
          control = (
            <select id={fieldId} name={name} value={String(v)} aria-describedby={describedBy} aria-invalid={invalid} onChange={(e) => edit(name, e.currentTarget.value)}>
              {!p.enum.includes(v) && <option value={String(v)}>{v === '' ? '(none)' : String(v)}</option>}
              {p.enum.map((o) => (
                <option key={String(o)} value={String(o)}>
                  {String(o)}
                </option>
              ))}
            </select>
          );
        } else if (p.type === 'boolean') {
          control = (
            <input id={fieldId} name={name} type="checkbox" role="switch" class="switch" checked={v === true} aria-describedby={describedBy} onChange={(e) => edit(name, e.currentTarget.checked)} />
          );
        } else if (p.type === 'number' || p.type === 'integer') {
          control = (
            <input
              id={fieldId}
              name={name}
              type="number"
              inputMode="decimal"
              min={p.minimum}
              max={p.maximum}
              step={stepOf(p)}
              value={String(v)}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onInput={(e) => edit(name, e.currentTarget.value)}
            />
          );
        } else {
          control = (
            <input
              id={fieldId}
              name={name}
              type="text"
              pattern={p.pattern}
              minLength={p.minLength}
              maxLength={p.maxLength}
              value={String(v)}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onInput={(e) => edit(name, e.currentTarget.value)}
            />
          );
        }
        return (
          <div class={`field${invalid ? ' invalid' : ''}`} key={name}>
            <label for={fieldId}>{name}</label>
            {control}
            <span id={hintId} class="hint">
              {p.type === 'boolean' ? 'on / off' : p.enum ? `one of ${p.enum.map(String).join(', ')}` : p.pattern ? `pattern ${p.pattern}` : rangeText(p)}
            </span>
            {invalid && (
              <span id={errId} class="error" role="alert">
                {errors[name]}
              </span>
            )}
          </div>
        );
      })}
      <div class="actions">
        <button type="submit" disabled={busy}>
          Send desired values
        </button>
        {status && (
          <p class={status.kind === 'ok' ? 'ok' : 'error'} role={status.kind === 'ok' ? 'status' : 'alert'}>
            {status.text}
          </p>
        )}
      </div>
    </form>
  );
}
