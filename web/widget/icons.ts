// The widget's icons as inline SVG templates (no icon font or request: the widget is one file).
import { svg, type TemplateResult } from 'lit';

const icon = (body: TemplateResult): TemplateResult =>
  svg`<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" fill="none" stroke="currentColor"
    stroke-width="2" stroke-linecap="round" stroke-linejoin="round">${body}</svg>`;

export const icons = {
  logo: icon(svg`<circle cx="12" cy="12" r="9"/><path d="M8 12h8M12 8v8"/>`),
  mic: icon(svg`<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3"/>`),
  micOff: icon(
    svg`<path d="M3 3l18 18M9 9v2a3 3 0 0 0 5 2.2M15 9.3V6a3 3 0 0 0-5.7-1.3M5 11a7 7 0 0 0 11.5 5.4M19 11a7 7 0 0 1-.6 2.8M12 18v3"/>`,
  ),
  cam: icon(svg`<rect x="3" y="6" width="12" height="12" rx="2"/><path d="M15 10l6-3v10l-6-3z"/>`),
  camOff: icon(
    svg`<path d="M3 3l18 18M15 15v1a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h1M10 6h3a2 2 0 0 1 2 2v2l6-3v10"/>`,
  ),
  people: icon(
    svg`<circle cx="9" cy="8" r="3"/><path d="M3 20a6 6 0 0 1 12 0"/><circle cx="17" cy="9" r="2.5"/><path d="M16 14a5 5 0 0 1 5 5"/>`,
  ),
  leave: icon(svg`<path d="M4 15c5-4 11-4 16 0l-2 3-3-1v-2.5a10 10 0 0 0-6 0V17l-3 1z"/>`),
};
