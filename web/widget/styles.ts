// The widget's styles. The root resets everything it could inherit from the page (`all:
// initial`: color, font, line-height… cross a shadow root; selectors do not), then sets its own.
// Theme colours are custom properties a page may override (--usher-accent and friends).
import { css } from 'lit';

export const widgetStyles = css`
  :host {
    display: block;
    min-width: 280px;
    container-type: inline-size;
  }
  :host([hidden]) {
    display: none;
  }
  .root {
    all: initial;
    display: flex;
    flex-direction: column;
    box-sizing: border-box;
    width: 100%;
    height: 100%;
    min-height: 300px;
    font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
    font-size: 14px;
    line-height: 1.4;
    color: var(--usher-fg, #1d2433);
    background: var(--usher-bg, #f5f7fb);
    border: 1px solid var(--usher-border, #d9dee8);
    border-radius: var(--usher-radius, 12px);
    overflow: hidden;
    --surface: var(--usher-surface, #ffffff);
    --muted: var(--usher-muted, #5b6477);
    --accent: var(--usher-accent, #2f6bff);
    --danger: var(--usher-danger, #d93a3a);
    --tile: #1b2130;
    --ok: #13804a;
    --warn: #9a6400;
  }
  :host([theme='dark']) .root {
    color: var(--usher-fg, #e8ecf4);
    background: var(--usher-bg, #10141d);
    border-color: var(--usher-border, #2a3244);
    --surface: var(--usher-surface, #1a2030);
    --muted: var(--usher-muted, #9aa4b8);
    --tile: #0b0e15;
    --ok: #4ade80;
    --warn: #fbbf24;
  }
  @media (prefers-color-scheme: dark) {
    :host(:not([theme='light'])) .root {
      color: var(--usher-fg, #e8ecf4);
      background: var(--usher-bg, #10141d);
      border-color: var(--usher-border, #2a3244);
      --surface: var(--usher-surface, #1a2030);
      --muted: var(--usher-muted, #9aa4b8);
      --tile: #0b0e15;
      --ok: #4ade80;
      --warn: #fbbf24;
    }
  }
  *,
  *::before,
  *::after {
    box-sizing: border-box;
  }
  button,
  input {
    font: inherit;
    color: inherit;
  }
  svg {
    display: block;
    flex: none;
  }
  .lobby {
    display: flex;
    flex: 1;
    flex-direction: column;
    align-items: center;
    justify-content: center;
    gap: 12px;
    padding: 20px 16px;
    text-align: center;
  }
  .title {
    display: inline-flex;
    align-items: center;
    gap: 8px;
    font-weight: 600;
    min-width: 0;
  }
  .lobby .title {
    font-size: 18px;
  }
  .logo {
    color: var(--accent);
  }
  .room {
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .name {
    width: min(100%, 260px);
    padding: 9px 12px;
    border: 1px solid var(--usher-border, #c9d0dc);
    border-radius: 8px;
    background: var(--surface);
  }
  .primary {
    min-width: 140px;
    min-height: 44px;
    padding: 10px 20px;
    border: 0;
    border-radius: 999px;
    background: var(--accent);
    color: #fff;
    font-weight: 600;
    cursor: pointer;
  }
  .primary:disabled {
    opacity: 0.6;
    cursor: default;
  }
  button:focus-visible,
  input:focus-visible {
    outline: 2px solid var(--accent);
    outline-offset: 2px;
  }
  .error {
    display: flex;
    flex-direction: column;
    gap: 4px;
    max-width: 420px;
    padding: 10px 12px;
    border-radius: 8px;
    border: 1px solid var(--danger);
    background: color-mix(in srgb, var(--danger) 10%, transparent);
    text-align: left;
  }
  .error strong {
    color: var(--danger);
    font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
    font-size: 12px;
  }
  .muted-text {
    margin: 0;
    color: var(--muted);
  }
  .call {
    display: flex;
    flex: 1;
    flex-direction: column;
    min-height: 0;
  }
  .bar {
    display: flex;
    align-items: center;
    justify-content: space-between;
    gap: 8px;
    padding: 8px 12px;
    border-bottom: 1px solid var(--usher-border, #d9dee8);
  }
  .status {
    flex: none;
    padding: 2px 8px;
    border-radius: 999px;
    font-size: 12px;
    font-weight: 600;
    background: color-mix(in srgb, var(--ok) 16%, transparent);
    color: var(--ok);
  }
  .status.reconnecting {
    background: color-mix(in srgb, var(--warn) 18%, transparent);
    color: var(--warn);
  }
  .notice {
    padding: 6px 12px;
    font-size: 12px;
    color: var(--muted);
  }
  .stage {
    position: relative;
    display: grid;
    align-content: center;
    flex: 1;
    min-height: 0;
    padding: 8px;
    overflow: auto;
  }
  .grid {
    display: grid;
    gap: 8px;
    grid-template-columns: repeat(auto-fit, minmax(136px, 1fr));
  }
  .grid[data-count='1'] {
    grid-template-columns: 1fr;
  }
  .tile {
    position: relative;
    margin: 0;
    aspect-ratio: 16 / 9;
    border-radius: 8px;
    overflow: hidden;
    background: var(--tile);
  }
  .tile video {
    display: block;
    width: 100%;
    height: 100%;
    object-fit: cover;
  }
  .avatar {
    position: absolute;
    inset: 0;
    display: flex;
    align-items: center;
    justify-content: center;
    background: var(--tile);
    color: #e8ecf4;
    font-size: 22px;
    font-weight: 600;
  }
  figcaption {
    position: absolute;
    left: 6px;
    bottom: 6px;
    right: 6px;
    display: flex;
    align-items: center;
    gap: 4px;
    color: #fff;
    font-size: 12px;
  }
  figcaption .label {
    padding: 1px 6px;
    border-radius: 4px;
    background: rgb(0 0 0 / 55%);
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .mic-off {
    display: inline-flex;
    padding: 2px;
    border-radius: 4px;
    background: var(--danger);
  }
  .mic-off svg {
    width: 14px;
    height: 14px;
  }
  .q {
    flex: none;
    width: 8px;
    height: 8px;
    border-radius: 50%;
    background: #8a93a6;
  }
  .q.good {
    background: #1fb86a;
  }
  .q.fair {
    background: #e0a100;
  }
  .q.poor {
    background: var(--danger);
  }
  .people {
    position: absolute;
    top: 8px;
    right: 8px;
    width: min(240px, calc(100% - 16px));
    max-height: calc(100% - 16px);
    margin: 0;
    padding: 6px;
    overflow: auto;
    list-style: none;
    border-radius: 8px;
    background: var(--surface);
    border: 1px solid var(--usher-border, #d9dee8);
    box-shadow: 0 6px 20px rgb(0 0 0 / 18%);
  }
  .people li {
    display: flex;
    align-items: center;
    gap: 6px;
    padding: 6px 8px;
  }
  .people li span:first-child {
    flex: 1;
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .people svg {
    width: 16px;
    height: 16px;
    color: var(--danger);
  }
  .controls {
    display: flex;
    justify-content: center;
    gap: 10px;
    padding: 10px 8px;
    border-top: 1px solid var(--usher-border, #d9dee8);
  }
  .ctl {
    position: relative;
    display: inline-flex;
    align-items: center;
    justify-content: center;
    width: 44px;
    height: 44px;
    padding: 0;
    border: 1px solid var(--usher-border, #d9dee8);
    border-radius: 50%;
    background: var(--surface);
    cursor: pointer;
  }
  .ctl.off {
    background: var(--danger);
    border-color: var(--danger);
    color: #fff;
  }
  .ctl.active {
    border-color: var(--accent);
    color: var(--accent);
  }
  .ctl.leave {
    width: 56px;
    border-radius: 22px;
    background: var(--danger);
    border-color: var(--danger);
    color: #fff;
  }
  .count {
    position: absolute;
    top: -4px;
    right: -4px;
    min-width: 18px;
    height: 18px;
    padding: 0 4px;
    border-radius: 9px;
    background: var(--accent);
    color: #fff;
    font-size: 11px;
    line-height: 18px;
    text-align: center;
  }
`;
