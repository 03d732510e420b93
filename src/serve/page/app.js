// The page of `attend serve`: plain ES2020, no framework, no build step.
// Everything the server answers is put into the page with textContent (or
// Element.append of strings, which makes text nodes), never as HTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  /** Makes an element: `el('li', {class: 'x', title: 't'}, 'text', child…)`. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(key, value === true ? '' : String(value));
    }
    node.append(...children);
    return node;
  }

  const clear = (node) => node.replaceChildren();

  // ---------------------------------------------------------------- API ---

  class ApiError extends Error {
    constructor(status, field, message, retryAfter) {
      super(message);
      this.status = status;
      this.field = field || null;
      this.retryAfter = retryAfter || null;
    }
  }

  /** GET (no body) or POST a JSON body; the answer's JSON, or an ApiError. */
  async function api(path, body) {
    const init = { headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.method = 'POST';
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, null, `the server cannot be reached (${e.message})`);
    }
    let data = null;
    try {
      data = await resp.json();
    } catch (_) {
      data = null;
    }
    if (!resp.ok) {
      const err = data && typeof data === 'object' ? data.error : null;
      throw new ApiError(
        (err && err.status) || resp.status,
        err && err.field,
        (err && err.message) || `the server answered ${resp.status} ${resp.statusText}`,
        resp.headers.get('Retry-After'),
      );
    }
    if (data === null) throw new ApiError(resp.status, null, 'the answer is not JSON');
    return data;
  }

  /**
   * Shows `err` in the alert element; marks the input of the field at fault
   * (`fields` maps a request field to its input) as invalid.
   */
  function showError(alertEl, err, fields) {
    clear(alertEl);
    const status = err instanceof ApiError && err.status ? `Error ${err.status}` : 'Error';
    alertEl.append(el('strong', {}, status));
    if (err.field) {
      alertEl.append(' in field ', el('code', { class: 'field-name' }, err.field));
    }
    alertEl.append(': ', el('span', { class: 'message' }, err.message || String(err)));
    if (err.retryAfter) alertEl.append(` (retry in ${err.retryAfter} s)`);
    const base = err.field ? err.field.replace(/\[\d+\]$/, '') : null;
    const input = base && fields ? fields[base] : null;
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-errormessage', alertEl.id);
    }
  }

  function clearError(alertEl, fields) {
    clear(alertEl);
    for (const input of Object.values(fields || {})) {
      input.removeAttribute('aria-invalid');
      input.removeAttribute('aria-errormessage');
    }
  }

  /** The number in an input, or undefined when it is empty (the server's default). */
  function numberOf(input) {
    const raw = input.value.trim();
    if (raw === '') return undefined;
    const n = Number(raw);
    return Number.isFinite(n) ? n : raw;
  }

  const fixed = (x, digits) => (typeof x === 'number' ? x.toFixed(digits) : String(x));

  // ------------------------------------------------------------ shading ---

  function luminance([r, g, b]) {
    const lin = (c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  }

  const DARK_TEXT = [17, 24, 39];
  const WHITE = [255, 255, 255];

  /** Background and text colours for weight `t` ∈ [0, 1] on a white→`high` scale. */
  function shade(t, high) {
    const w = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
    const rgb = WHITE.map((c, i) => Math.round(c + (high[i] - c) * w));
    const l = luminance(rgb);
    const onDark = (l + 0.05) / (luminance(DARK_TEXT) + 0.05);
    const onWhite = 1.05 / (l + 0.05);
    const text = onDark >= onWhite ? DARK_TEXT : WHITE;
    return { background: `rgb(${rgb.join(',')})`, color: `rgb(${text.join(',')})` };
  }

  const HEAT = [12, 60, 140]; // dark blue
  const HIGHLIGHT = [245, 158, 11]; // amber

  /** Moves focus among `items` (roving tabindex) on arrow, Home and End keys. */
  function roving(container, selector, columns) {
    container.addEventListener('keydown', (e) => {
      const items = [...container.querySelectorAll(selector)];
      const i = items.indexOf(document.activeElement);
      if (i < 0) return;
      const cols = columns ? columns() : items.length;
      const row = Math.floor(i / cols);
      let j = null;
      switch (e.key) {
        case 'ArrowRight': j = Math.min(items.length - 1, i + 1); break;
        case 'ArrowLeft': j = Math.max(0, i - 1); break;
        case 'ArrowDown': j = i + cols < items.length ? i + cols : i; break;
        case 'ArrowUp': j = i - cols >= 0 ? i - cols : i; break;
        case 'Home': j = e.ctrlKey ? 0 : row * cols; break;
        case 'End': j = e.ctrlKey ? items.length - 1 : Math.min(items.length - 1, row * cols + cols - 1); break;
        case 'PageUp': j = i % cols; break;
        case 'PageDown': j = Math.floor((items.length - 1) / cols) * cols + (i % cols); break;
        default: return;
      }
      e.preventDefault();
      if (j === null || j < 0 || j >= items.length) return;
      items[i].tabIndex = -1;
      items[j].tabIndex = 0;
      items[j].focus();
    });
    // A click moves the tab stop too.
    container.addEventListener('focusin', (e) => {
      const target = e.target.closest(selector);
      if (!target) return;
      for (const item of container.querySelectorAll(selector)) item.tabIndex = item === target ? 0 : -1;
    });
  }

  // ---------------------------------------------------------- the page ---

  const PANELS = {
    translator: 'translate',
    classifier: 'classify',
    'language-model': 'generate',
    vectors: 'vectors',
  };

  /** The one-line description of a model under its select. */
  function describe(model) {
    const s = model.summary || {};
    const parts = [];
    switch (model.kind) {
      case 'translator': {
        if (s.src_vocab) parts.push(`${s.src_vocab} source and ${s.tgt_vocab} target words`);
        const m = s.model || {};
        if (m.cell) parts.push(`${m.layers || 1}-layer ${String(m.cell).toUpperCase()}, ${m.hidden} hidden`);
        const search = s.decode && s.decode.search;
        if (search && search.type) {
          parts.push(search.type === 'beam' ? `decodes with ${search.size} beams` : `decodes by ${search.type}`);
        }
        break;
      }
      case 'classifier': {
        const classes = Array.isArray(s.classes) ? s.classes : [];
        if (classes.length) {
          const shown = classes.slice(0, 6).join(', ');
          parts.push(`${classes.length} classes: ${shown}${classes.length > 6 ? ', …' : ''}`);
        }
        if (s.members > 1) parts.push(`an ensemble of ${s.members}`);
        if (s.parameters) parts.push(`${Number(s.parameters).toLocaleString('en')} parameters`);
        break;
      }
      case 'language-model':
        if (Array.isArray(s.conditions) && s.conditions.length) {
          const shown = s.conditions.slice(0, 6).join(', ');
          parts.push(`${s.conditions.length} conditions: ${shown}${s.conditions.length > 6 ? ', …' : ''}`);
        }
        if (s.stream) parts.push('a text stream model');
        break;
      case 'vectors':
        if (s.words) parts.push(`${Number(s.words).toLocaleString('en')} words of ${s.dim} dimensions`);
        break;
      default:
        break;
    }
    return parts.join(' · ') || model.path || '';
  }

  let MODELS = [];

  function modelNamed(name) {
    return MODELS.find((m) => m.name === name);
  }

  function fillSelect(select, models, info, onChange) {
    clear(select);
    for (const m of models) select.append(el('option', { value: m.name, title: m.path }, m.name));
    const update = () => {
      const model = modelNamed(select.value);
      info.textContent = model ? describe(model) : '';
      if (onChange && model) onChange(model);
    };
    select.addEventListener('change', update);
    update();
  }

  // Tabs: one per kind served, arrow keys move between them.
  function setupTabs(kinds) {
    const tablist = $('tabs');
    const tabs = [...tablist.querySelectorAll('[role="tab"]')];
    const shown = [];
    for (const tab of tabs) {
      const panel = $(tab.getAttribute('aria-controls'));
      const present = kinds.has(tab.dataset.kind);
      tab.hidden = !present;
      if (!present) panel.hidden = true;
      else shown.push(tab);
    }
    tablist.hidden = shown.length === 0;

    const activate = (tab, focus) => {
      for (const t of shown) {
        const selected = t === tab;
        t.setAttribute('aria-selected', String(selected));
        t.tabIndex = selected ? 0 : -1;
        $(t.getAttribute('aria-controls')).hidden = !selected;
      }
      if (focus) tab.focus();
      const name = tab.id.replace(/^tab-/, '');
      if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
    };

    for (const tab of shown) tab.addEventListener('click', () => activate(tab, false));
    tablist.addEventListener('keydown', (e) => {
      const i = shown.indexOf(document.activeElement);
      if (i < 0) return;
      let j;
      if (e.key === 'ArrowRight') j = (i + 1) % shown.length;
      else if (e.key === 'ArrowLeft') j = (i - 1 + shown.length) % shown.length;
      else if (e.key === 'Home') j = 0;
      else if (e.key === 'End') j = shown.length - 1;
      else return;
      e.preventDefault();
      activate(shown[j], true);
    });

    const wanted = shown.find((t) => `#${t.id.replace(/^tab-/, '')}` === location.hash);
    if (shown.length) activate(wanted || shown[0], false);
  }

  /**
   * Wires a form: Ctrl/Cmd+Enter in its text areas submits it; a submit
   * runs `work` once at a time (later answers win over stale ones), marks
   * the result region busy and shows errors in the form's alert. `work`
   * gives back a function that renders the answer and returns the line
   * announced in the `live` status.
   */
  function wireForm(form, { button, busyLabel, result, alertEl, live, fields, work }) {
    const idle = button.textContent;
    let seq = 0;
    let busy = false;
    for (const area of form.querySelectorAll('textarea')) {
      area.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          if (form.requestSubmit) form.requestSubmit();
          else button.click();
        }
      });
    }
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (busy) return;
      busy = true;
      const mine = ++seq;
      clearError(alertEl, fields);
      button.setAttribute('aria-disabled', 'true');
      button.textContent = busyLabel;
      if (result) result.setAttribute('aria-busy', 'true');
      try {
        const render = await work();
        if (mine === seq) {
          // Screen readers hear a one-line summary, not the whole result.
          const said = render();
          if (live) live.textContent = said || '';
        }
      } catch (err) {
        if (mine === seq) {
          if (live) live.textContent = '';
          showError(alertEl, err, fields);
        }
      } finally {
        busy = false;
        button.removeAttribute('aria-disabled');
        button.textContent = idle;
        if (result) result.setAttribute('aria-busy', 'false');
      }
    });
  }

  // ---------------------------------------------------------- translate ---

  function setupTranslate(models) {
    const select = $('translate-model');
    fillSelect(select, models, $('translate-model-info'), (model) => {
      const search = model.summary && model.summary.decode && model.summary.decode.search;
      if (search && search.type === 'beam' && search.size) $('translate-beam').value = String(search.size);
    });
    const input = $('translate-input');
    const result = $('translate-result');
    const table = $('heatmap');
    const readout = $('heatmap-readout');
    let answer = null;

    $('heatmap-values').addEventListener('change', (e) => {
      table.classList.toggle('show-values', e.target.checked);
    });

    wireForm($('translate-form'), {
      button: $('translate-button'),
      busyLabel: 'Translating…',
      result,
      alertEl: $('translate-error'),
      live: $('translate-live'),
      fields: {
        text: input,
        texts: input,
        beam: $('translate-beam'),
        n_best: $('translate-nbest'),
        model: select,
      },
      work: async () => {
        const body = { model: select.value, text: input.value, attention: true };
        const beam = numberOf($('translate-beam'));
        const nBest = numberOf($('translate-nbest'));
        if (beam !== undefined) body.beam = beam;
        if (nBest !== undefined) body.n_best = nBest;
        const data = await api('v1/translate', body);
        return () => {
          answer = data.translations[0];
          renderTranslation(answer, 0);
          result.hidden = false;
          return `Translation: ${answer.text}`;
        };
      },
    });

    function renderTranslation(tr, chosen) {
      $('translation').textContent = tr.text;
      const list = $('nbest');
      clear(list);
      tr.hypotheses.forEach((hyp, i) => {
        const button = el(
          'button',
          {
            type: 'button',
            class: 'hyp',
            'aria-pressed': String(i === chosen),
            title: `log-probability ${fixed(hyp.log_prob, 4)}${hyp.finished ? '' : ' (cut at the length limit)'}`,
          },
          el('span', { class: 'hyp-text' }, hyp.text),
          el('span', { class: 'hyp-score' }, `score ${fixed(hyp.score, 3)}`),
        );
        button.dataset.index = String(i);
        button.addEventListener('click', () => {
          for (const b of list.querySelectorAll('button.hyp')) b.setAttribute('aria-pressed', String(b === button));
          renderHeatmap(tr.source_tokens, tr.hypotheses[i]);
        });
        list.append(el('li', {}, button));
      });
      renderHeatmap(tr.source_tokens, tr.hypotheses[chosen]);
    }

    function renderHeatmap(source, hyp) {
      clear(table);
      table.classList.toggle('show-values', $('heatmap-values').checked);
      readout.textContent = '\u00a0';
      const rows = (hyp && hyp.attention) || [];
      $('heatmap-none').hidden = rows.length > 0;
      $('heatmap-rest-note').hidden = true;
      $('heatmap-scroll').hidden = rows.length === 0;
      if (!rows.length) return;
      const output = hyp.tokens.slice();
      while (output.length < rows.length) output.push('<eos>');
      const cols = Math.max(source.length, ...rows.map((r) => r.length));
      const sums = rows.map((r) => r.reduce((a, b) => a + b, 0));
      // The PyTorch tutorial's decoder attends over fixed slots beyond the
      // sentence: show that share rather than let the rows look normalised.
      const rest = sums.some((s) => Math.abs(1 - s) > 0.005);
      $('heatmap-rest-note').hidden = !rest;

      table.append(el('caption', { class: 'sr-only' }, `Attention weights of “${hyp.text}”`));
      const head = el('tr', {}, el('td', { class: 'corner' }, el('span', { class: 'corner-label' }, 'output \\ source')));
      for (let j = 0; j < cols; j++) {
        head.append(el('th', { scope: 'col', class: 'src' }, j < source.length ? source[j] : `#${j + 1}`));
      }
      if (rest) {
        head.append(el('th', { scope: 'col', class: 'rest-head', title: 'attention outside the source tokens (the model attends over fixed positions beyond the sentence)' }, 'outside'));
      }
      table.append(el('thead', {}, head));

      const body = el('tbody');
      rows.forEach((row, i) => {
        const tr = el('tr', {}, el('th', { scope: 'row', class: 'out' }, output[i]));
        for (let j = 0; j < cols; j++) {
          const w = row[j];
          const has = typeof w === 'number';
          const src = j < source.length ? source[j] : `#${j + 1}`;
          const weight = has ? w.toFixed(4) : 'none';
          const td = el(
            'td',
            {
              class: 'cell',
              tabindex: i === 0 && j === 0 ? 0 : -1,
              title: `${output[i]} ← ${src}: ${weight}`,
              'aria-label': `${output[i]} from ${src}: ${weight}`,
            },
            el('span', { class: 'v' }, has ? w.toFixed(2) : ''),
          );
          td.dataset.weight = has ? String(w) : '';
          td.dataset.row = String(i);
          td.dataset.col = String(j);
          const { background, color } = shade(has ? w : 0, HEAT);
          td.style.backgroundColor = background;
          td.style.color = color;
          tr.append(td);
        }
        if (rest) {
          const other = Math.max(0, 1 - sums[i]);
          const td = el('td', { class: 'rest', title: `${output[i]}: ${other.toFixed(4)} outside the source` }, other.toFixed(2));
          td.dataset.weight = String(other);
          tr.append(td);
        }
        body.append(tr);
      });
      table.append(body);
    }

    function describeCell(td) {
      const i = Number(td.dataset.row);
      const j = Number(td.dataset.col);
      for (const h of table.querySelectorAll('.hl')) h.classList.remove('hl');
      const rowHead = td.parentElement.querySelector('th');
      const colHead = table.querySelectorAll('thead th.src')[j];
      if (rowHead) rowHead.classList.add('hl');
      if (colHead) colHead.classList.add('hl');
      const w = td.dataset.weight === '' ? 'none' : Number(td.dataset.weight).toFixed(4);
      clear(readout);
      readout.append(
        el('span', { class: 'tok' }, rowHead ? rowHead.textContent : `#${i + 1}`),
        ' ← ',
        el('span', { class: 'tok' }, colHead ? colHead.textContent : `#${j + 1}`),
        ': ',
        el('strong', {}, w),
      );
    }

    table.addEventListener('mouseover', (e) => {
      const td = e.target.closest('td.cell');
      if (td) describeCell(td);
    });
    table.addEventListener('focusin', (e) => {
      const td = e.target.closest('td.cell');
      if (td) describeCell(td);
    });
    roving(table, 'td.cell', () => table.querySelectorAll('thead th.src').length);
  }

  // ----------------------------------------------------------- classify ---

  function setupClassify(models) {
    const select = $('classify-model');
    fillSelect(select, models, $('classify-model-info'));
    const input = $('classify-input');
    const result = $('classify-result');
    const tokens = $('tokens');
    const readout = $('tokens-readout');

    wireForm($('classify-form'), {
      button: $('classify-button'),
      busyLabel: 'Classifying…',
      result,
      alertEl: $('classify-error'),
      live: $('classify-live'),
      fields: { text: input, texts: input, model: select },
      work: async () => {
        const data = await api('v1/classify', { model: select.value, text: input.value });
        return () => {
          const p = data.predictions[0];
          render(p);
          result.hidden = false;
          const top = p.classes && p.classes[0];
          return `Prediction: ${p.label}${top ? `, ${(top.probability * 100).toFixed(1)} percent` : ''}`;
        };
      },
    });

    function render(p) {
      const top = p.classes && p.classes[0];
      $('classify-label').textContent = top
        ? `${p.label} (${(top.probability * 100).toFixed(1)}%)`
        : p.label;
      $('classify-label').dataset.label = p.label;

      clear(tokens);
      readout.textContent = '\u00a0';
      const att = Array.isArray(p.attention) ? p.attention : null;
      const chars = p.tokens.every((t) => [...t].length <= 1);
      tokens.classList.toggle('chars', chars);
      $('tokens-hint').textContent = att
        ? 'Each token is shaded by its attention weight (the darkest is the largest). Hover or focus a token, and move with the arrow keys, to read its weight.'
        : 'This model does not pool with attention: its tokens carry no weights.';
      const max = att ? Math.max(...att, 1e-12) : 1;
      p.tokens.forEach((tok, i) => {
        const shown = tok === ' ' ? '\u00a0' : tok;
        const span = el('span', { class: 'token', tabindex: att ? (i === 0 ? 0 : -1) : null }, shown);
        if (att) {
          const w = att[i];
          span.dataset.weight = String(w);
          span.title = `${tok}: ${fixed(w, 4)}`;
          span.setAttribute('aria-label', `${tok}: ${fixed(w, 4)}`);
          const { background, color } = shade(w / max, HIGHLIGHT);
          span.style.backgroundColor = background;
          span.style.color = color;
        }
        tokens.append(span);
      });

      const list = $('classes');
      clear(list);
      for (const c of p.classes) {
        const pct = (c.probability * 100).toFixed(1);
        const fill = el('span', { class: 'fill' });
        fill.style.width = `${Math.min(100, Math.max(0, c.probability * 100))}%`;
        const row = el(
          'li',
          { class: c.label === p.label ? 'class-row is-top' : 'class-row' },
          el('span', { class: 'class-label' }, c.label),
          el('span', { class: 'bar', 'aria-hidden': 'true' }, fill),
          el('span', { class: 'class-pct' }, `${pct}%`),
        );
        row.dataset.label = c.label;
        row.dataset.probability = String(c.probability);
        list.append(row);
      }
    }

    const describeToken = (e) => {
      const span = e.target.closest('span.token');
      if (!span || span.dataset.weight === undefined) return;
      clear(readout);
      readout.append(el('span', { class: 'tok' }, span.textContent), ': ', el('strong', {}, Number(span.dataset.weight).toFixed(4)));
    };
    tokens.addEventListener('mouseover', describeToken);
    tokens.addEventListener('focusin', describeToken);
    roving(tokens, 'span.token[tabindex]');
  }

  // ----------------------------------------------------------- generate ---

  function setupGenerate(models) {
    const select = $('generate-model');
    const condition = $('generate-condition');
    fillSelect(select, models, $('generate-model-info'), (model) => {
      const conditions = (model.summary && model.summary.conditions) || [];
      // A conditioned model needs one of its conditions.
      clear(condition);
      for (const c of conditions) condition.append(el('option', { value: c }, c));
      $('generate-condition-field').hidden = conditions.length === 0;
    });
    const prime = $('generate-prime');
    const result = $('generate-result');

    wireForm($('generate-form'), {
      button: $('generate-button'),
      busyLabel: 'Generating…',
      result,
      alertEl: $('generate-error'),
      live: $('generate-live'),
      fields: {
        prime,
        condition,
        length: $('generate-length'),
        temperature: $('generate-temperature'),
        count: $('generate-count'),
        model: select,
      },
      work: async () => {
        const body = { model: select.value };
        if (prime.value !== '') body.prime = prime.value;
        if (!$('generate-condition-field').hidden && condition.value) body.condition = condition.value;
        for (const [key, id] of [['length', 'generate-length'], ['temperature', 'generate-temperature'], ['count', 'generate-count']]) {
          const v = numberOf($(id));
          if (v !== undefined) body[key] = v;
        }
        const data = await api('v1/generate', body);
        return () => {
          const list = $('generated');
          clear(list);
          for (const t of data.texts) {
            const cont = t.continuation || '';
            const start = cont && t.text.endsWith(cont) ? t.text.slice(0, t.text.length - cont.length) : (cont ? '' : t.text);
            list.append(
              el(
                'li',
                {},
                el('p', { class: 'gen-text' }, el('span', { class: 'prime' }, start), el('span', { class: 'continuation' }, cont)),
                el('p', { class: 'hint' }, `log-probability ${fixed(t.log_prob, 3)} · ${t.finished ? 'ended by the model' : 'stopped at the length'}`),
              ),
            );
          }
          result.hidden = false;
          return `Generated ${data.texts.length} text${data.texts.length === 1 ? '' : 's'}`;
        };
      },
    });
  }

  // ------------------------------------------------------------ vectors ---

  function renderNeighbours(list, neighbours) {
    clear(list);
    if (!neighbours.length) {
      list.append(el('li', { class: 'hint' }, 'No words found.'));
      return 'No words found';
    }
    for (const n of neighbours) {
      const fill = el('span', { class: 'fill' });
      fill.style.width = `${Math.min(100, Math.max(0, n.score * 100))}%`;
      list.append(
        el(
          'li',
          { class: 'neighbour' },
          el('span', { class: 'word' }, n.word),
          el('span', { class: 'bar', 'aria-hidden': 'true' }, fill),
          el('span', { class: 'score' }, fixed(n.score, 4)),
        ),
      );
    }
    return `${neighbours.length} words, the nearest: ${neighbours[0].word}`;
  }

  function setupVectors(models) {
    const select = $('vectors-model');
    fillSelect(select, models, $('vectors-model-info'));
    const word = $('similar-word');

    wireForm($('similar-form'), {
      button: $('similar-button'),
      busyLabel: 'Finding…',
      result: $('similar-results'),
      alertEl: $('similar-error'),
      live: $('similar-live'),
      fields: { word, positive: word, negative: word, n: $('similar-n'), model: select },
      work: async () => {
        const positive = [];
        const negative = [];
        for (const w of word.value.trim().split(/\s+/).filter(Boolean)) {
          if (w.length > 1 && w.startsWith('-')) negative.push(w.slice(1));
          else positive.push(w.length > 1 && w.startsWith('+') ? w.slice(1) : w);
        }
        const body = { model: select.value };
        if (positive.length === 1 && negative.length === 0) body.word = positive[0];
        else if (positive.length || negative.length) {
          body.positive = positive;
          if (negative.length) body.negative = negative;
        } else body.word = '';
        const n = numberOf($('similar-n'));
        if (n !== undefined) body.n = n;
        const data = await api('v1/similar', body);
        return () => renderNeighbours($('similar-results'), data.neighbours);
      },
    });

    wireForm($('analogy-form'), {
      button: $('analogy-button'),
      busyLabel: 'Solving…',
      result: $('analogy-results'),
      alertEl: $('analogy-error'),
      live: $('analogy-live'),
      fields: { a: $('analogy-a'), b: $('analogy-b'), c: $('analogy-c'), n: $('analogy-n'), method: $('analogy-method'), model: select },
      work: async () => {
        const body = {
          model: select.value,
          a: $('analogy-a').value.trim(),
          b: $('analogy-b').value.trim(),
          c: $('analogy-c').value.trim(),
          method: $('analogy-method').value,
        };
        const n = numberOf($('analogy-n'));
        if (n !== undefined) body.n = n;
        const data = await api('v1/analogy', body);
        return () => renderNeighbours($('analogy-results'), data.neighbours);
      },
    });
  }

  // -------------------------------------------------------------- start ---

  async function start() {
    const status = $('status');
    let data;
    try {
      data = await api('v1/models');
    } catch (err) {
      status.textContent = 'The served models could not be loaded.';
      showError($('page-error'), err);
      return;
    }
    MODELS = Array.isArray(data.models) ? data.models : [];
    const byKind = new Map();
    for (const m of MODELS) {
      if (!PANELS[m.kind]) continue;
      if (!byKind.has(m.kind)) byKind.set(m.kind, []);
      byKind.get(m.kind).push(m);
    }
    if (byKind.has('translator')) setupTranslate(byKind.get('translator'));
    if (byKind.has('classifier')) setupClassify(byKind.get('classifier'));
    if (byKind.has('language-model')) setupGenerate(byKind.get('language-model'));
    if (byKind.has('vectors')) setupVectors(byKind.get('vectors'));
    setupTabs(new Set(byKind.keys()));
    const names = MODELS.map((m) => `${m.name} (${m.kind})`).join(', ');
    status.textContent = MODELS.length
      ? `Serving ${MODELS.length} model${MODELS.length === 1 ? '' : 's'}: ${names}.`
      : 'The server answers for no model.';
    document.body.dataset.ready = 'true';
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
