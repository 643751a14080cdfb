/**
 * The account page's mail rules (the API's /me/rules): a vacation reply, forwarding, and filters made
 * in a form — conditions and actions as Roundcube's managesieve plugin offers them. The server keeps
 * them as the account's active Sieve script; saving one part keeps the others.
 */
import { useState } from 'preact/hooks';
import { api, messageOf } from '../shared/api.js';
import { Card, ErrorText, Field } from '../shared/components.js';
import { useLoad } from '../shared/hooks.js';
// The rules' shape is the server's own (types only: nothing of the server is bundled).
import type { Action, Condition, Filter, MailRules } from '../../src/mail/sieve/rules.js';

/** GET /me/rules: the rules and whether they are the active script. */
interface Rules extends MailRules {
  active: boolean;
  activeScript: string | null;
}

const FIELDS: Array<[Condition['field'], string]> = [
  ['from', 'From'],
  ['to', 'To'],
  ['cc', 'Cc'],
  ['subject', 'Subject'],
  ['list-id', 'List-Id'],
  ['header', 'Other header…'],
  ['size', 'Size (bytes)'],
  ['body', 'Body'],
];
const TEXT_OPS: Array<[string, string]> = [
  ['contains', 'contains'],
  ['notcontains', 'does not contain'],
  ['is', 'is'],
  ['notis', 'is not'],
  ['matches', 'matches (* ?)'],
  ['notmatches', 'does not match'],
];
const SIZE_OPS: Array<[string, string]> = [
  ['over', 'over'],
  ['under', 'under'],
];
const ACTIONS: Array<[Action['type'] | 'seen' | 'flagged', string]> = [
  ['fileinto', 'Move to folder'],
  ['redirect', 'Forward to'],
  ['seen', 'Mark as read'],
  ['flagged', 'Flag'],
  ['reject', 'Reject with message'],
  ['discard', 'Delete'],
  ['stop', 'Stop here'],
];

/** The three cards, sharing the rules as last saved. */
export function MailRules() {
  const loaded = useLoad(() => api<Rules>('GET', '/me/rules'), []);
  const [saved, setSaved] = useState<Rules | null>(null);
  const rules = saved ?? loaded.data;
  if (!rules) return <ErrorText error={loaded.error} />;
  return (
    <>
      {rules.activeScript ? (
        <p class="notice" role="note">
          Your own Sieve script “{rules.activeScript}” is active. Saving here makes these rules active instead; your
          script is kept.
        </p>
      ) : null}
      <VacationCard rules={rules} onSaved={setSaved} />
      <ForwardingCard rules={rules} onSaved={setSaved} />
      <FiltersCard rules={rules} onSaved={setSaved} />
    </>
  );
}

/** Saving state of one card: its error and a "Saved." after success. */
function useSave(path: string, onSaved: (r: Rules) => void) {
  const [error, setError] = useState('');
  const [done, setDone] = useState(false);
  const save = async (e: Event, body: unknown) => {
    e.preventDefault();
    setError('');
    setDone(false);
    try {
      onSaved(await api<Rules>('PUT', path, body));
      setDone(true);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const status = (
    <>
      <ErrorText error={error} />
      {done ? <p role="status">Saved.</p> : null}
    </>
  );
  return { save, status };
}

function Check(props: { label: string; checked: boolean; onChange: (v: boolean) => void; name: string }) {
  return (
    <label class="check">
      <input
        type="checkbox"
        name={props.name}
        checked={props.checked}
        onChange={(e) => props.onChange((e.target as HTMLInputElement).checked)}
      />
      {props.label}
    </label>
  );
}

function VacationCard({ rules, onSaved }: { rules: Rules; onSaved: (r: Rules) => void }) {
  const [v, setV] = useState(rules.vacation);
  const { save, status } = useSave('/me/vacation', onSaved);
  return (
    <Card title="Vacation reply">
      <form onSubmit={(e) => void save(e, v)}>
        <Check
          name="vacation-on"
          label="Answer mail automatically"
          checked={v.enabled}
          onChange={(enabled) => setV({ ...v, enabled })}
        />
        <Field
          label="Subject"
          name="vacation-subject"
          value={v.subject}
          onInput={(subject) => setV({ ...v, subject })}
        />
        <div class="field">
          <label for="f-vacation-body">Message</label>
          <textarea
            id="f-vacation-body"
            name="vacation-body"
            rows={5}
            value={v.body}
            onInput={(e) => setV({ ...v, body: (e.target as HTMLTextAreaElement).value })}
          />
        </div>
        <div class="field">
          <label for="f-vacation-days">Answer each sender once every (days)</label>
          <input
            id="f-vacation-days"
            name="vacation-days"
            type="number"
            min={1}
            max={30}
            value={v.days}
            onInput={(e) => setV({ ...v, days: Number((e.target as HTMLInputElement).value) })}
          />
        </div>
        <button type="submit">Save vacation reply</button>
      </form>
      {status}
    </Card>
  );
}

function ForwardingCard({ rules, onSaved }: { rules: Rules; onSaved: (r: Rules) => void }) {
  const [f, setF] = useState(rules.forwarding);
  const [to, setTo] = useState(rules.forwarding.to.join(', '));
  const { save, status } = useSave('/me/forwarding', onSaved);
  const addresses = () =>
    to
      .split(/[\s,;]+/)
      .map((a) => a.trim())
      .filter(Boolean);
  return (
    <Card title="Forwarding">
      <form onSubmit={(e) => void save(e, { ...f, to: addresses() })}>
        <Check
          name="forward-on"
          label="Forward my mail"
          checked={f.enabled}
          onChange={(enabled) => setF({ ...f, enabled })}
        />
        <Field
          label="To (up to 4 addresses)"
          name="forward-to"
          type="text"
          value={to}
          onInput={setTo}
          placeholder="me@example.org"
        />
        <Check
          name="forward-copy"
          label="Keep a copy here"
          checked={f.keepCopy}
          onChange={(keepCopy) => setF({ ...f, keepCopy })}
        />
        <button type="submit">Save forwarding</button>
      </form>
      {status}
    </Card>
  );
}

function FiltersCard({ rules, onSaved }: { rules: Rules; onSaved: (r: Rules) => void }) {
  const [filters, setFilters] = useState<Filter[]>(rules.filters);
  const { save, status } = useSave('/me/filters', onSaved);
  const update = (i: number, f: Filter) => setFilters(filters.map((x, k) => (k === i ? f : x)));
  const move = (i: number, by: number) => {
    const next = [...filters];
    const [f] = next.splice(i, 1);
    next.splice(i + by, 0, f!);
    setFilters(next);
  };
  const blank: Filter = {
    name: `Filter ${filters.length + 1}`,
    enabled: true,
    match: 'all',
    conditions: [{ field: 'from', op: 'contains', value: '' }],
    actions: [{ type: 'fileinto', mailbox: '' }],
  };
  return (
    <Card title="Filters">
      <p>Applied in order to each new message; the first that says “Stop here” ends the list.</p>
      <form onSubmit={(e) => void save(e, { filters })}>
        {filters.map((f, i) => (
          <fieldset class="filter" key={i}>
            <legend>{f.name || `Filter ${i + 1}`}</legend>
            <FilterEditor index={i} filter={f} onChange={(x) => update(i, x)} />
            <div class="row">
              <button type="button" class="secondary" disabled={i === 0} onClick={() => move(i, -1)}>
                Up
              </button>
              <button type="button" class="secondary" disabled={i === filters.length - 1} onClick={() => move(i, 1)}>
                Down
              </button>
              <button type="button" class="danger" onClick={() => setFilters(filters.filter((_, k) => k !== i))}>
                Remove filter
              </button>
            </div>
          </fieldset>
        ))}
        <div class="row">
          <button type="button" class="secondary" onClick={() => setFilters([...filters, blank])}>
            Add filter
          </button>
          <button type="submit">Save filters</button>
        </div>
      </form>
      {status}
    </Card>
  );
}

function FilterEditor({
  index,
  filter: f,
  onChange,
}: {
  index: number;
  filter: Filter;
  onChange: (f: Filter) => void;
}) {
  const id = (s: string) => `filter-${index}-${s}`;
  const setCondition = (k: number, c: Condition) =>
    onChange({ ...f, conditions: f.conditions.map((x, j) => (j === k ? c : x)) });
  const setAction = (k: number, a: Action) => onChange({ ...f, actions: f.actions.map((x, j) => (j === k ? a : x)) });
  return (
    <>
      <div class="row">
        <Field label="Name" name={id('name')} value={f.name} onInput={(name) => onChange({ ...f, name })} />
        <div class="field">
          <label for={`f-${id('match')}`}>When</label>
          <select
            id={`f-${id('match')}`}
            value={f.match}
            onChange={(e) => onChange({ ...f, match: (e.target as HTMLSelectElement).value as Filter['match'] })}
          >
            <option value="all">all conditions hold</option>
            <option value="any">any condition holds</option>
          </select>
        </div>
        <Check name={id('on')} label="On" checked={f.enabled} onChange={(enabled) => onChange({ ...f, enabled })} />
      </div>
      {f.conditions.map((c, k) => (
        <ConditionRow
          key={k}
          id={id(`c${k}`)}
          condition={c}
          onChange={(x) => setCondition(k, x)}
          onRemove={() => onChange({ ...f, conditions: f.conditions.filter((_, j) => j !== k) })}
        />
      ))}
      <button
        type="button"
        class="secondary"
        onClick={() =>
          onChange({ ...f, conditions: [...f.conditions, { field: 'subject', op: 'contains', value: '' }] })
        }
      >
        Add condition
      </button>
      {f.actions.map((a, k) => (
        <ActionRow
          key={k}
          id={id(`a${k}`)}
          action={a}
          onChange={(x) => setAction(k, x)}
          onRemove={() => onChange({ ...f, actions: f.actions.filter((_, j) => j !== k) })}
        />
      ))}
      <button
        type="button"
        class="secondary"
        onClick={() => onChange({ ...f, actions: [...f.actions, { type: 'stop' }] })}
      >
        Add action
      </button>
    </>
  );
}

function Select(props: {
  id: string;
  label: string;
  value: string;
  options: Array<[string, string]>;
  onChange: (v: string) => void;
}) {
  return (
    <div class="field">
      <label for={`f-${props.id}`}>{props.label}</label>
      <select
        id={`f-${props.id}`}
        value={props.value}
        onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}
      >
        {props.options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

function ConditionRow(props: {
  id: string;
  condition: Condition;
  onChange: (c: Condition) => void;
  onRemove: () => void;
}) {
  const c = props.condition;
  const isSize = c.field === 'size';
  return (
    <div class="row condition">
      <Select
        id={`${props.id}-field`}
        label="Field"
        value={c.field}
        options={FIELDS}
        onChange={(v) => {
          const field = v as Condition['field'];
          const op = field === 'size' ? 'over' : isSize ? 'contains' : c.op;
          props.onChange({ ...c, field, op, ...(field === 'header' ? { header: c.header ?? '' } : {}) });
        }}
      />
      {c.field === 'header' ? (
        <Field
          label="Header name"
          name={`${props.id}-header`}
          value={c.header ?? ''}
          onInput={(header) => props.onChange({ ...c, header })}
        />
      ) : null}
      <Select
        id={`${props.id}-op`}
        label="Test"
        value={c.op}
        options={isSize ? SIZE_OPS : TEXT_OPS}
        onChange={(op) => props.onChange({ ...c, op: op as Condition['op'] })}
      />
      <Field
        label="Value"
        name={`${props.id}-value`}
        value={c.value}
        onInput={(value) => props.onChange({ ...c, value })}
      />
      <button type="button" class="secondary" aria-label="Remove this condition" onClick={props.onRemove}>
        ×
      </button>
    </div>
  );
}

function ActionRow(props: { id: string; action: Action; onChange: (a: Action) => void; onRemove: () => void }) {
  const a = props.action;
  const kind = a.type === 'flag' ? a.flag : a.type;
  const pick = (v: string): Action => {
    if (v === 'seen' || v === 'flagged') return { type: 'flag', flag: v };
    if (v === 'fileinto') return { type: 'fileinto', mailbox: '' };
    if (v === 'redirect') return { type: 'redirect', to: '', copy: false };
    if (v === 'reject') return { type: 'reject', reason: '' };
    return { type: v as 'discard' | 'stop' };
  };
  return (
    <div class="row action">
      <Select
        id={`${props.id}-type`}
        label="Then"
        value={kind}
        options={ACTIONS}
        onChange={(v) => props.onChange(pick(v))}
      />
      {a.type === 'fileinto' ? (
        <Field
          label="Folder"
          name={`${props.id}-mailbox`}
          value={a.mailbox}
          onInput={(mailbox) => props.onChange({ ...a, mailbox })}
          placeholder="Work/Reports"
        />
      ) : null}
      {a.type === 'redirect' ? (
        <>
          <Field label="Address" name={`${props.id}-to`} value={a.to} onInput={(to) => props.onChange({ ...a, to })} />
          <Check
            name={`${props.id}-copy`}
            label="Keep a copy"
            checked={a.copy ?? false}
            onChange={(copy) => props.onChange({ ...a, copy })}
          />
        </>
      ) : null}
      {a.type === 'reject' ? (
        <Field
          label="Message"
          name={`${props.id}-reason`}
          value={a.reason}
          onInput={(reason) => props.onChange({ ...a, reason })}
        />
      ) : null}
      <button type="button" class="secondary" aria-label="Remove this action" onClick={props.onRemove}>
        ×
      </button>
    </div>
  );
}
