// A labelled <select> of cameras or microphones, with "none" as a real choice.
import { useId } from 'react';

interface Props {
  label: string;
  noneLabel: string;
  devices: MediaDeviceInfo[];
  /** deviceId, '' for default, null for none. */
  value: string | null;
  onChange(value: string | null): void;
  testId: string;
}

const NONE = '__none__';

export function DeviceSelect({ label, noneLabel, devices, value, onChange, testId }: Props) {
  const id = useId();
  const known = value === null || value === '' || devices.some((d) => d.deviceId === value);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        data-testid={testId}
        value={value === null ? NONE : known ? value : ''}
        onChange={(e) => onChange(e.target.value === NONE ? null : e.target.value)}
      >
        {devices.length === 0 && <option value="">Default</option>}
        {devices.map((d, i) => (
          <option key={d.deviceId} value={d.deviceId}>
            {d.label || `${label} ${i + 1}`}
          </option>
        ))}
        <option value={NONE}>{noneLabel}</option>
      </select>
    </div>
  );
}
