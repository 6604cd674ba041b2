// The heads' dashboard (a Telegram Mini App): plain ES module, no build step, no CDN.
// Every API call carries Telegram's signed initData; the texts come translated from the API
// (the bot's own catalog), only the two sign-in errors are here, for when the API said no.

const TG_SCRIPT = "https://telegram.org/js/telegram-web-app.js";
const FALLBACK = {
  en: { unauthorized: "The dashboard could not confirm who you are. Open it again from the bot.",
        forbidden: "Your role has no reports.", error: "Something went wrong." },
  ru: { unauthorized: "Дашборд не смог подтвердить, кто вы. Откройте его заново из бота.",
        forbidden: "Для вашей роли отчётов нет.", error: "Что-то пошло не так." },
};

const state = { me: null, period: "m", start: "", end: "", team: "", dim: "", init: "", L: {},
                shown: null };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...kids) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const kid of kids.flat()) {
    if (kid !== null && kid !== undefined) node.append(kid instanceof Node ? kid : String(kid));
  }
  return node;
}

// telegram-web-app.js only if it loads (no internet in tests: the page works without it).
function loadTelegram() {
  if (window.Telegram?.WebApp) return Promise.resolve();
  return new Promise((resolve) => {
    const s = document.createElement("script");
    s.src = TG_SCRIPT;
    s.onload = s.onerror = () => resolve();
    setTimeout(resolve, 1500);
    document.head.append(s);
  });
}

function initData() {
  const fromTg = window.Telegram?.WebApp?.initData;
  if (fromTg) return fromTg;
  // What Telegram itself passes in the URL's hash (and what the tests open).
  const hash = new URLSearchParams(location.hash.slice(1));
  return hash.get("tgWebAppData") || "";
}

// Telegram's theme parameters as CSS variables; the light or dark defaults of app.css
// otherwise (Telegram's colorScheme, else the system's).
function applyTheme() {
  const tg = window.Telegram?.WebApp;
  const tp = tg?.themeParams || {};
  const root = document.documentElement;
  const map = { bg_color: "--bg", text_color: "--text", hint_color: "--hint",
                link_color: "--link", button_color: "--button", button_text_color: "--button-text",
                secondary_bg_color: "--secondary-bg", destructive_text_color: "--danger" };
  for (const [k, v] of Object.entries(map)) {
    if (tp[k]) root.style.setProperty(v, tp[k]);
    else root.style.removeProperty(v);
  }
  if (tp.button_color) root.style.setProperty("--bar", tp.button_color);
  else root.style.removeProperty("--bar");
  if (tg?.colorScheme) root.dataset.scheme = tg.colorScheme;
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(code); this.status = status; this.code = code; this.text = message;
  }
}

async function api(path) {
  const resp = await fetch(path, { headers: { "X-Telegram-Init-Data": state.init } });
  if (!resp.ok) {
    let code = "error", message = "";
    try {
      const body = await resp.json();
      code = body.error || code; message = body.message || "";
    } catch (e) { /* not JSON */ }
    throw new ApiError(resp.status, code, message);
  }
  return resp;
}

function showError(code) {
  const lang = (navigator.language || "en").slice(0, 2) === "ru" ? "ru" : "en";
  const texts = { ...FALLBACK[lang], ...state.L };
  $("main").replaceChildren();
  $("periods").replaceChildren();
  $("title").textContent = "Salesbot";
  const box = $("error");
  box.textContent = texts[code] || texts.error;
  box.hidden = false;
}

// A period refused (picked dates): the server's message in the user's language, no data.
function showPeriodError(message) {
  $("main").replaceChildren();
  const box = $("period-error");
  box.textContent = message || state.L.error;
  box.hidden = false;
}

const loc = () => state.me?.locale || "en";
const nf = () => new Intl.NumberFormat(loc(), { maximumFractionDigits: 1 });
// Money compact on a phone: 1 234 567 → «1.2M» / «1,2 млн»; the exact figure in the title.
const cf = () => new Intl.NumberFormat(loc(), { notation: "compact", maximumFractionDigits: 1 });
function num(v) { return v === null || v === undefined ? "—" : nf().format(Number(v)); }
function money(v) {
  if (v === null || v === undefined) return "—";
  return Math.abs(Number(v)) >= 10000 ? cf().format(Number(v)) : nf().format(Number(v));
}

function query() {
  const team = state.team ? `&team=${encodeURIComponent(state.team)}` : "";
  const dates = state.period === "c"
    ? `&start=${encodeURIComponent(state.start)}&end=${encodeURIComponent(state.end)}` : "";
  return `?period=${encodeURIComponent(state.period)}${dates}${team}`;
}

function xlsxLink(kind) {
  return el("button", { class: "xlsx", onclick: async () => {
    try {
      const resp = await api(`/app/api/report/${kind}.xlsx${query()}`);
      // The server's name, with the period's dates (like the chat's file).
      const name = /filename="([^"]+)"/.exec(resp.headers.get("Content-Disposition") || "");
      const blob = await resp.blob();
      const a = el("a", { href: URL.createObjectURL(blob),
                          download: name ? name[1] : `${kind}.xlsx` });
      document.body.append(a); a.click(); a.remove();
    } catch (err) { failed(err); }
  } }, "📥 " + state.L.xlsx);
}

function section(kind, title, ...body) {
  return el("section", { id: `sec-${kind}` }, el("h2", {}, el("span", {}, title), xlsxLink(kind)),
            ...body);
}

// A cell's text: the name as is, money compact (exact in the title), other figures as numbers.
function cell(value, i, kind) {
  if (i === 0) return el("td", { title: value ?? "" }, value ?? "—");
  if (kind === "money") return el("td", { title: num(value) }, money(value));
  return el("td", {}, num(value));
}

// Horizontal bars as inline SVG: [label, value, shown].
function bars(rows) {
  const max = Math.max(1, ...rows.map((r) => Number(r[1]) || 0));
  const h = 20, labelW = 120, w = 320;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${labelW + w + 90} ${rows.length * h + 4}`);
  svg.setAttribute("width", "100%");
  rows.forEach(([label, value, shown], i) => {
    const y = i * h + 2;
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", 0); t.setAttribute("y", y + 14); t.textContent = String(label).slice(0, 18);
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", labelW); r.setAttribute("y", y + 3); r.setAttribute("height", h - 6);
    r.setAttribute("width", Math.max(1, (w * (Number(value) || 0)) / max));
    const v = document.createElementNS(ns, "text");
    v.setAttribute("x", labelW + (w * (Number(value) || 0)) / max + 4); v.setAttribute("y", y + 14);
    v.textContent = shown;
    svg.append(t, r, v);
  });
  return svg;
}

// A table sortable by any column: cols [key, title, kind ("money": compact)]; rows of
// {key: value}; numbers compare as numbers. In a box of its own that scrolls sideways, the
// first column sticky: a phone's page itself never does.
function sortable(id, cols, rows, total, onRow) {
  let by = null, asc = false;
  const tbody = el("tbody");
  const head = cols.map(([key, title], i) => el("th", { "data-key": key, onclick: () => {
    asc = by === key ? !asc : i === 0;
    by = key;
    head.forEach((th) => th.classList.remove("sorted", "asc"));
    head[i].classList.add("sorted");
    if (asc) head[i].classList.add("asc");
    fill();
  } }, title));
  function cmp(a, b) {
    const x = a[by], y = b[by];
    const nx = Number(x), ny = Number(y);
    const r = (x === null || y === null) ? (x === null) - (y === null)
      : (!isNaN(nx) && !isNaN(ny) && x !== "" ? nx - ny : String(x).localeCompare(String(y)));
    return asc ? r : -r;
  }
  function fill() {
    const sorted = by ? [...rows].sort(cmp) : rows;
    tbody.replaceChildren(...sorted.map((r) => el("tr", onRow ? { class: "clickable",
      "data-id": r.id, onclick: () => onRow(r) } : {},
    cols.map(([key, , kind], i) => cell(r[key], i, kind)))));
  }
  fill();
  const foot = total ? el("tfoot", {}, el("tr", { class: "total" },
    cols.map(([key, , kind], i) => cell(i === 0 ? state.L.total : total[key], i, kind))))
    : null;
  return el("div", { class: "scroll" }, el("table", { id }, el("thead", {}, el("tr", {}, head)),
                                          tbody, foot));
}

function resultRow(line) {
  const c = line.current;
  return { id: c.user_id, name: c.name, contacts: c.contacts_total,
           clients: line.clients_in_work, overdue: line.overdue_contacts,
           new_deals: c.new_deals, won: c.won_count,
           revenue: c.revenue, lost: c.lost_count, conversion: c.conversion,
           avg_check: c.avg_check, payments: c.payments };
}

async function showDeals(row) {
  const box = $("deals");
  box.replaceChildren(el("div", { class: "hint" }, "…"));
  try {
    const team = state.team ? `?team=${encodeURIComponent(state.team)}` : "";
    const d = await (await api(`/app/api/manager/${row.id}/deals${team}`)).json();
    const L = state.L;
    box.replaceChildren(el("h2", {}, `${L.deals}: ${d.name}`),
      d.deals.length ? el("div", { class: "scroll" }, el("table", { id: "deals-table" },
        el("thead", {}, el("tr", {}, [L.deal, L.client, L.stage, L.amount, ""].map(
          (t) => el("th", {}, t)))),
        el("tbody", {}, d.deals.map((x) => el("tr", {},
          el("td", {}, x.title), el("td", {}, x.client_name), el("td", {}, x.stage.text),
          el("td", {}, num(x.amount)),
          el("td", {}, el("a", { href: x.link, class: "chat-link", onclick: (e) => {
            if (window.Telegram?.WebApp?.openTelegramLink) {
              e.preventDefault(); window.Telegram.WebApp.openTelegramLink(x.link);
            }
          } }, L.open_in_chat)))))))
        : el("p", { class: "hint" }, L.no_deals));
    box.scrollIntoView({ block: "nearest" });
  } catch (err) { showError(err.code || "error"); }
}

async function load(kind) {
  return (await api(`/app/api/report/${kind}${query()}`)).json();
}

const RENDER = {
  async results(r, all) {
    const L = state.L;
    const cols = [["name", L.manager], ["contacts", L.contacts], ["clients", L.clients_in_work],
      ["overdue", L.overdue_contacts], ["new_deals", L.new_deals], ["won", L.won],
      ["revenue", L.revenue, "money"], ["lost", L.lost], ["conversion", L.conversion],
      ["avg_check", L.avg_check, "money"], ["payments", L.payments, "money"]];
    const rows = r.data.lines.map(resultRow);
    const total = r.data.total ? resultRow(r.data.total) : null;
    // What each manager is owed now: the receivables report's own rows, beside the results.
    const recv = all.receivables?.data;
    if (recv) {
      const owed = (a) => a.buckets.reduce((s, v) => s + Number(v), 0);
      const by = Object.fromEntries(recv.by_manager.map((a) => [a.id, owed(a)]));
      cols.push(["owed", L.owed, "money"]);
      rows.forEach((x) => { x.owed = by[x.id] ?? 0; });
      if (total) total.owed = owed(recv.total);
    }
    return section("results", `${r.title} · ${r.period_text}`,
      sortable("team", cols, rows, total, showDeals), el("div", { id: "deals" }));
  },
  async funnel(r) {
    const s = r.data.stages;
    return section("funnel", `${r.title} · ${r.period_text}`,
      el("div", { class: "hint" }, state.L.reached),
      bars(s.map((x) => [x.stage.text, x.reached, num(x.reached)])),
      el("div", { class: "hint" }, state.L.open_now),
      bars(s.map((x) => [x.stage.text, x.open_amount,
      `${x.open_count} · ${money(x.open_amount)}`])));
  },
  async dynamics(r) {
    const t = r.data.total || r.data.managers[0];
    if (!t) return null;
    return section("dynamics", `${r.title} · ${r.period_text}`, el("div", { class: "hint" },
      state.L.revenue), bars(t.points.map((p) => [p.start.slice(0, 7), p.revenue,
      money(p.revenue)])));
  },
  async forecast(r) {
    const t = r.data.total;
    return section("forecast", r.title, el("div", { class: "hint" }, state.L.weighted),
      bars(r.data.months.map((m, i) => [m.slice(0, 7), t.months[i].weighted,
        money(t.months[i].weighted)])));
  },
  async losses(r) {
    const L = state.L;
    return section("losses", `${r.title} · ${r.period_text}`,
      r.data.reasons.length ? bars(r.data.reasons.map((x) => [x.reason ? x.reason.text : "—",
        x.count, `${x.count} · ${num(x.share)}%`])) : el("p", { class: "hint" }, L.no_data));
  },
  async receivables(r) {
    const L = state.L;
    const b = state.me.buckets;
    const cols = [["name", L.manager], ...b.map((t, i) => [`b${i}`, t, "money"])];
    const row = (a) => Object.fromEntries([["id", a.id], ["name", a.name],
      ...a.buckets.map((v, i) => [`b${i}`, v])]);
    return section("receivables", r.title,
      bars(b.map((t, i) => [t, r.data.total.buckets[i], money(r.data.total.buckets[i])])),
      sortable("aging", cols, r.data.by_manager.map(row), row(r.data.total)));
  },
  // One grouping at a time, as in the chat (the spreadsheet has them all): switching
  // redraws this section from the figures already loaded.
  marketing(r) {
    const L = state.L;
    const dims = state.me.dims;
    const dim = dims.find((d) => d.key === state.dim) || dims[0];
    const cols = [["name", dim.title], ["new_clients", L.new_clients],
      ["deals_opened", L.deals_opened], ["won", L.won], ["revenue", L.revenue, "money"],
      ["conversion", L.conversion], ["touches", L.touches]];
    const row = (x) => ({ name: x.item ? x.item.text : "—", new_clients: x.current.new_clients,
      deals_opened: x.current.deals_opened, won: x.current.won_count,
      revenue: x.current.revenue, conversion: x.current.conversion,
      touches: x.current.touches });
    const picker = el("nav", { id: "dims", "aria-label": L.group_by }, dims.map((d) =>
      el("button", { class: d.key === dim.key ? "on" : "", "data-dim": d.key, onclick: () => {
        state.dim = d.key;
        $("sec-marketing").replaceWith(RENDER.marketing(r));
      } }, d.title)));
    return section("marketing", `${r.title} · ${r.period_text}`, picker,
      sortable("marketing", cols, (r.data.by[dim.key] || []).map(row), row(r.data.total)));
  },
};

async function render() {
  const main = $("main");
  // Only the latest choice is drawn: a slower answer to an earlier tap is dropped.
  const seq = state.seq = (state.seq || 0) + 1;
  $("period-error").hidden = true;
  main.replaceChildren(el("p", { class: "hint" }, "…"));
  try {
    const kinds = state.me.reports.map((x) => x.kind).filter((k) => RENDER[k]);
    const all = Object.fromEntries(await Promise.all(kinds.map(async (k) => [k, await load(k)])));
    if (seq !== state.seq) return;
    const parts = await Promise.all(kinds.map((k) => RENDER[k](all[k], all)));
    main.replaceChildren(...parts.filter(Boolean));
    // The dates picker starts at the period shown (in the user's time zone, from the API).
    const shown = Object.values(all).find((r) => r.period)?.period;
    if (shown) state.shown = shown;
  } catch (err) {
    if (seq === state.seq) failed(err);
  }
}

function failed(err) {
  if (err.status === 400 && err.code === "period") showPeriodError(err.text);
  else showError(err.code || "error");
}

function datesForm() {
  const c = state.me.custom, L = state.L;
  const start = state.period === "c" ? state.start : (state.shown?.start || c.today);
  const end = state.period === "c" ? state.end : (state.shown?.end || c.today);
  // Not `required`: an empty date goes to the API, which says what is wrong in the user's
  // language (the browser's own bubble would be in the browser's).
  const input = (id, value) => el("input", { type: "date", id, value, min: c.min, max: c.max });
  return el("form", { id: "dates", onsubmit: (e) => {
    e.preventDefault();
    state.period = "c";
    state.start = $("from").value;
    state.end = $("to").value;
    periods(true);
    render();
  } }, el("label", {}, L.from, " ", input("from", start)),
  el("label", {}, L.to, " ", input("to", end)),
  el("button", { type: "submit", id: "apply", class: "on" }, L.apply));
}

// The chat's periods, «Dates» (a from–to picker), and an admin's choice of team.
function periods(showDates = state.period === "c") {
  const nav = $("periods");
  const c = state.me.custom;
  nav.replaceChildren(...state.me.periods.map((p) => el("button", {
    class: p.kind === state.period ? "on" : "", "data-period": p.kind,
    onclick: () => { state.period = p.kind; periods(); render(); } }, p.title)),
  el("button", { class: state.period === "c" ? "on" : "", "data-period": c.kind,
                 onclick: () => periods(true) }, `🗓 ${c.title}`));
  // An admin picks whose figures: all teams or one (the API checks the role).
  if (state.me.teams.length) {
    const teams = [{ id: "", name: state.L.all_teams }, ...state.me.teams];
    nav.append(el("select", { id: "team", onchange: (e) => {
      state.team = e.target.value; render(); } },
    teams.map((t) => {
      const o = el("option", { value: t.id }, t.name);
      if (String(t.id) === String(state.team)) o.selected = true;
      return o;
    })));
  }
  if (showDates) nav.append(datesForm());
}

async function main() {
  await loadTelegram();
  const tg = window.Telegram?.WebApp;
  tg?.ready?.(); tg?.expand?.();
  applyTheme();
  tg?.onEvent?.("themeChanged", applyTheme);
  state.init = initData();
  try {
    state.me = await (await api("/app/api/me")).json();
  } catch (err) {
    showError(err.code || "error");
    return;
  }
  state.L = state.me.labels;
  document.documentElement.lang = state.me.locale;
  $("title").textContent = "📊 " + state.L.title;
  $("who").textContent = state.me.name;
  periods();
  await render();
}

main();
