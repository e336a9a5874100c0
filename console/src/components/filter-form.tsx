/** The commands filter as a form; applying it puts every field in the URL. */
import { useEffect, useState } from 'preact/hooks';
import { stateLabel } from '../format';
import { fromLocalInput, toLocalInput, type Filter, type FilterKey } from '../filters';
import { STATES } from '../types';

const TEXT_FIELDS: [FilterKey, string, string][] = [
  ['domain', 'Domain', ''],
  ['type', 'Type', ''],
  ['errorCode', 'Error code', ''],
  ['batchId', 'Batch id', 'a batch’s UUID'],
  ['correlationId', 'Correlation id', ''],
  ['causationId', 'Sent by (command id)', 'a command’s UUID'],
  ['text', 'Payload contains', 'text in the JSON payload'],
];

export function FilterForm({ filter, apply }: { filter: Filter; apply: (f: Filter) => void }) {
  const [draft, setDraft] = useState<Filter>(filter);
  useEffect(() => setDraft(filter), [JSON.stringify(filter)]);
  const set = (key: FilterKey, value: string | undefined) =>
    setDraft((d) => ({ ...d, [key]: value || undefined }));

  return (
    <form
      class="filters"
      aria-label="Filter commands"
      onSubmit={(e) => {
        e.preventDefault();
        apply(draft);
      }}
    >
      <label>
        State
        <select
          name="state"
          value={draft.state ?? ''}
          onChange={(e) => set('state', e.currentTarget.value)}
        >
          <option value="">any</option>
          {STATES.map((s) => (
            <option key={s} value={s}>
              {stateLabel(s)}
            </option>
          ))}
        </select>
      </label>
      {TEXT_FIELDS.map(([key, label, placeholder]) => (
        <label key={key}>
          {label}
          <input
            name={key}
            value={draft[key] ?? ''}
            placeholder={placeholder}
            onInput={(e) => set(key, e.currentTarget.value.trim())}
          />
        </label>
      ))}
      <label>
        Created after
        <input
          type="datetime-local"
          name="createdAfter"
          value={toLocalInput(draft.createdAfter)}
          onInput={(e) => set('createdAfter', fromLocalInput(e.currentTarget.value))}
        />
      </label>
      <label>
        Created before
        <input
          type="datetime-local"
          name="createdBefore"
          value={toLocalInput(draft.createdBefore)}
          onInput={(e) => set('createdBefore', fromLocalInput(e.currentTarget.value))}
        />
      </label>
      <div class="row">
        <button type="submit">Apply filters</button>
        <button type="button" onClick={() => apply({})}>
          Clear
        </button>
      </div>
    </form>
  );
}
