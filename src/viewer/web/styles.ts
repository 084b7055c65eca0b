/**
 * The component's styles, adopted as a constructed style sheet: the host page's CSP needs no
 * 'unsafe-inline' for them. Everything a host may want to change is a custom property (inherited
 * into the shadow root) or a `::part`.
 */
const CSS = `
:host {
  --auditq-font: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  --auditq-bg: #ffffff;
  --auditq-fg: #1b1f24;
  --auditq-muted: #57606a;
  --auditq-border: #d0d7de;
  --auditq-accent: #0a58ca;
  --auditq-row-hover: #f3f6f9;
  --auditq-success: #1a7f37;
  --auditq-failure: #b42318;
  --auditq-error-bg: #fff4f2;
  --auditq-diff-before: #ffebe9;
  --auditq-diff-after: #dafbe1;
  --auditq-radius: 6px;
  --auditq-height: 32rem;
  display: block;
  font-family: var(--auditq-font);
  color: var(--auditq-fg);
  background: var(--auditq-bg);
}
:host([theme="dark"]) {
  --auditq-bg: #0d1117;
  --auditq-fg: #e6edf3;
  --auditq-muted: #9da7b3;
  --auditq-border: #30363d;
  --auditq-accent: #79b8ff;
  --auditq-row-hover: #161b22;
  --auditq-success: #56d364;
  --auditq-failure: #ff7b72;
  --auditq-error-bg: #2d1214;
  --auditq-diff-before: #4a1f22;
  --auditq-diff-after: #1b3a25;
}
* { box-sizing: border-box; }
.root { position: relative; border: 1px solid var(--auditq-border); border-radius: var(--auditq-radius); background: var(--auditq-bg); color: var(--auditq-fg); }
.toolbar { display: flex; flex-wrap: wrap; gap: .5rem; padding: .75rem; border-bottom: 1px solid var(--auditq-border); align-items: end; }
.toolbar label { display: flex; flex-direction: column; font-size: .75rem; color: var(--auditq-muted); gap: .2rem; }
.toolbar input, .toolbar select { font: inherit; font-size: .875rem; color: var(--auditq-fg); background: var(--auditq-bg); border: 1px solid var(--auditq-border); border-radius: 4px; padding: .3rem .4rem; min-width: 8rem; }
.toolbar .search input { min-width: 14rem; }
button { font: inherit; font-size: .875rem; cursor: pointer; border-radius: 4px; border: 1px solid var(--auditq-border); background: var(--auditq-bg); color: var(--auditq-fg); padding: .3rem .7rem; }
button:focus-visible, input:focus-visible, select:focus-visible { outline: 2px solid var(--auditq-accent); outline-offset: 1px; }
.message { margin: .75rem; padding: .75rem; border-radius: 4px; background: var(--auditq-error-bg); color: var(--auditq-fg); border: 1px solid var(--auditq-failure); }
.scroller { max-height: var(--auditq-height); overflow: auto; }
table { width: 100%; border-collapse: collapse; font-size: .875rem; }
th { position: sticky; top: 0; background: var(--auditq-bg); text-align: left; font-weight: 600; color: var(--auditq-muted); border-bottom: 1px solid var(--auditq-border); padding: .45rem .6rem; }
td { padding: .45rem .6rem; border-bottom: 1px solid var(--auditq-border); vertical-align: top; }
td.time, td.outcome { white-space: nowrap; }
td.actor, td.action, td.resource, td.summary { overflow-wrap: anywhere; }
td.action { min-width: 9rem; }
tbody tr:hover { background: var(--auditq-row-hover); }
td.summary button { border: none; padding: 0; background: none; color: var(--auditq-accent); text-align: left; text-decoration: underline; }
.outcome-success { color: var(--auditq-success); }
.outcome-failure { color: var(--auditq-failure); font-weight: 600; }
.footer { display: flex; justify-content: space-between; align-items: center; padding: .5rem .75rem; color: var(--auditq-muted); font-size: .8rem; }
.drawer { position: absolute; top: 0; right: 0; bottom: 0; width: min(32rem, 100%); overflow: auto; background: var(--auditq-bg); border-left: 1px solid var(--auditq-border); box-shadow: -4px 0 12px rgba(0,0,0,.15); padding: 1rem; }
.drawer h2 { font-size: 1rem; margin: 0 2rem .75rem 0; }
.drawer h3 { font-size: .875rem; margin: 1rem 0 .4rem; color: var(--auditq-muted); }
.drawer .close { position: absolute; top: .75rem; right: .75rem; }
.drawer dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem .75rem; margin: 0; font-size: .85rem; }
.drawer dt { color: var(--auditq-muted); }
.drawer dd { margin: 0; overflow-wrap: anywhere; }
.drawer pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: .8rem; margin: 0; }
.diff td.before { background: var(--auditq-diff-before); }
.diff td.after { background: var(--auditq-diff-after); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
[hidden] { display: none !important; }
`

let sheet: CSSStyleSheet | undefined

export function viewerStyles(): CSSStyleSheet {
  if (!sheet) {
    sheet = new CSSStyleSheet()
    sheet.replaceSync(CSS)
  }
  return sheet
}
