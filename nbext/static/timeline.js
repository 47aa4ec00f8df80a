// The lifecycle timeline (nbext/widget_timeline.py): one row per span, a bar on the trace's time axis.
// An open span (end_ms null) is drawn running: its bar and the axis grow with the time since it came.

const FRAME_MS = 100;

function label(span) {
  const div = document.createElement("div");
  div.className = "wb-label";
  div.style.paddingLeft = `${span.depth * 12}px`;
  const layer = document.createElement("span");
  layer.className = `wb-layer wb-layer-${span.layer}`;
  layer.textContent = span.layer;
  const name = document.createElement("span");
  name.className = "wb-name";
  name.textContent = span.name + (span.measured_by ? " *" : "");
  if (span.measured_by) name.title = `measured by ${span.measured_by}`;
  div.append(layer, name);
  return div;
}

function ms(value) {
  return value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(2)} ms`;
}

function render({ model, el }) {
  el.classList.add("wb-widget", "wb-timeline");
  const note = document.createElement("div");
  note.className = "wb-note";
  const header = document.createElement("div");
  header.className = "wb-axis";
  const rowsEl = document.createElement("div");
  rowsEl.className = "wb-rows";
  const empty = document.createElement("div");
  empty.className = "wb-empty";
  empty.textContent = "no spans yet";
  el.append(note, header, rowsEl, empty);

  let bars = [];
  let receivedAt = performance.now();
  let timer = null;

  function axisEnd(now) {
    const spans = model.get("spans");
    let end = 1;
    for (const s of spans) end = Math.max(end, s.end_ms ?? s.start_ms);
    const open = spans.some((s) => s.end_ms === null);
    return open ? end + (now - receivedAt) : end;
  }

  function place() {
    const now = performance.now();
    const end = axisEnd(now);
    header.textContent = `0 – ${ms(end)}`;
    for (const [bar, span, text] of bars) {
      const stop = span.end_ms ?? end;
      bar.style.left = `${(span.start_ms / end) * 100}%`;
      bar.style.width = `${Math.max(((stop - span.start_ms) / end) * 100, 0.3)}%`;
      text.textContent = span.end_ms === null ? "running" : ms(span.end_ms - span.start_ms);
    }
    const open = bars.some(([, span]) => span.end_ms === null);
    if (open && timer === null) timer = setInterval(place, FRAME_MS);
    if (!open && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  }

  function draw() {
    receivedAt = performance.now();
    const spans = model.get("spans");
    rowsEl.replaceChildren();
    bars = [];
    for (const span of spans) {
      const row = document.createElement("div");
      row.className = "wb-row";
      row.dataset.layer = span.layer;
      row.dataset.name = span.name;
      const track = document.createElement("div");
      track.className = "wb-track";
      const bar = document.createElement("div");
      bar.className = `wb-bar wb-layer-${span.layer}` + (span.end_ms === null ? " wb-open" : "");
      if (span.status === "error") bar.classList.add("wb-error");
      track.appendChild(bar);
      const text = document.createElement("div");
      text.className = "wb-duration";
      row.append(label(span), track, text);
      rowsEl.appendChild(row);
      bars.push([bar, span, text]);
    }
    empty.hidden = spans.length > 0;
    place();
  }

  function drawNote() {
    note.textContent = model.get("note");
    note.hidden = !model.get("note");
  }

  model.on("change:spans", draw);
  model.on("change:note", drawNote);
  draw();
  drawNote();
  return () => timer !== null && clearInterval(timer);
}

export default { render };
