/* The segment conditions builder (campaigns/admin/conditions.py).
 *
 * The form's textarea holds the conditions JSON (what is posted and stored). The builder reads
 * it, shows groups of conditions picked from lists, writes the JSON back on every change and
 * asks the admin's count endpoint how many members match. Two levels: the top group and groups
 * inside it; anything deeper is left to the JSON editor.
 */
document.addEventListener("alpine:init", () => {
  let seq = 0;
  const key = () => `k${++seq}`;

  window.Alpine.data("segmentBuilder", (root) => ({
    catalogue: JSON.parse(document.getElementById(root.dataset.catalogue).textContent),
    tree: { type: "all", items: [] },
    raw: false,
    deep: false,
    countText: "",
    timer: null,
    get t() {
      return this.catalogue.texts;
    },
    get textarea() {
      return document.getElementById(root.dataset.textarea);
    },

    init() {
      this.read(this.textarea.value);
      this.$watch("tree", () => this.write());
      this.count();
    },

    spec(cond) {
      return this.catalogue.fields.find((f) => f.code === cond.field) || this.catalogue.fields[0];
    },
    choices(cond) {
      return this.catalogue.choices[cond.field] || [];
    },
    valueKind(cond) {
      const kind = this.spec(cond).kind;
      if (cond.op === "current") return "none";
      if (cond.op === "between") return "between";
      if (kind === "set" || cond.op === "in" || cond.op === "not_in") return "set";
      return kind;
    },

    blank(field) {
      const spec = this.catalogue.fields.find((f) => f.code === field);
      const op = spec.ops[0];
      return { key: key(), field, op, a: spec.kind === "bool" ? "true" : "", b: "", list: [], period: "" };
    },
    setField(cond, field) {
      const fresh = this.blank(field);
      Object.assign(cond, { field, op: fresh.op, a: fresh.a, b: "", list: [], period: "" });
    },
    addCondition(list) {
      list.push(this.blank("recency_days"));
    },
    addGroup() {
      this.tree.items.push({ key: key(), group: true, type: "any", items: [this.blank("tier")] });
    },
    removeFrom(list, item) {
      const at = list.indexOf(item);
      if (at >= 0) list.splice(at, 1);
    },

    // --- JSON → builder ------------------------------------------------------------------------
    read(text) {
      let data;
      try {
        data = text.trim() ? JSON.parse(text) : {};
      } catch (e) {
        this.raw = true;
        return false;
      }
      const tree = this.group(data, 0);
      this.deep = tree === null;
      if (tree) this.tree = tree;
      return true;
    },
    group(node, depth) {
      if (node === null || typeof node !== "object" || Array.isArray(node)) return null;
      const keys = Object.keys(node);
      if (keys.length === 0 && depth === 0) return { type: "all", items: [] };
      if (keys.length !== 1 || !["all", "any"].includes(keys[0]) || !Array.isArray(node[keys[0]]))
        return null;
      const items = [];
      for (const item of node[keys[0]]) {
        if (item && typeof item === "object" && "field" in item) {
          const cond = this.condition(item);
          if (!cond) return null;
          items.push(cond);
        } else if (depth === 0) {
          const sub = this.group(item, 1);
          if (!sub) return null;
          items.push({ key: key(), group: true, type: sub.type, items: sub.items });
        } else {
          return null;
        }
      }
      return { type: keys[0], items };
    },
    condition(item) {
      const spec = this.catalogue.fields.find((f) => f.code === item.field);
      if (!spec || !spec.ops.includes(item.op)) return null;
      const known = ["field", "op", "value", "period_days"];
      if (Object.keys(item).some((k) => !known.includes(k))) return null;
      const cond = this.blank(item.field);
      cond.op = item.op;
      const v = item.value;
      if (item.op === "between" && Array.isArray(v)) [cond.a, cond.b] = v.map(String);
      else if (Array.isArray(v)) cond.list = v.map(String);
      else if (typeof v === "boolean") cond.a = String(v);
      else if (v !== undefined && v !== null) cond.a = String(v);
      if ("period_days" in item) cond.period = item.period_days === null ? "" : String(item.period_days);
      cond.hadPeriod = "period_days" in item;
      return cond;
    },

    // --- builder → JSON ------------------------------------------------------------------------
    number(text, decimal) {
      if (text === "" || text === null || text === undefined) return null;
      if (decimal) return String(text);
      const n = Number(text);
      return Number.isFinite(n) ? n : String(text);
    },
    toCondition(cond) {
      const spec = this.spec(cond);
      const out = { field: cond.field, op: cond.op };
      const kind = this.valueKind(cond);
      if (kind === "between") out.value = [this.number(cond.a, spec.decimal), this.number(cond.b, spec.decimal)];
      else if (kind === "number") out.value = this.number(cond.a, spec.decimal);
      else if (kind === "set")
        out.value = cond.field === "birthday_month" ? cond.list.map(Number) : [...cond.list];
      else if (kind === "bool") out.value = cond.a === "true";
      if (spec.period && (cond.period !== "" || cond.hadPeriod))
        out.period_days = cond.period === "" ? null : this.number(cond.period, false);
      return out;
    },
    conditions() {
      if (this.tree.items.length === 0) return {};
      const items = this.tree.items.map((item) =>
        item.group ? { [item.type]: item.items.map((c) => this.toCondition(c)) } : this.toCondition(item),
      );
      return { [this.tree.type]: items };
    },
    write() {
      if (this.deep) return;
      this.textarea.value = JSON.stringify(this.conditions(), null, 2);
      this.count();
    },
    fromRaw() {
      if (this.read(this.textarea.value) && !this.deep) this.raw = true;
      this.count();
    },

    // --- the live count ------------------------------------------------------------------------
    count() {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.fetchCount(), 300);
    },
    async fetchCount() {
      const form = root.closest("form");
      const body = new FormData();
      body.append("conditions", this.textarea.value);
      for (const name of ["program", "preview_program"]) {
        const field = form && form.elements[name];
        if (field && field.value) body.append(name, field.value);
      }
      const csrf = form && form.elements.csrfmiddlewaretoken;
      this.countText = this.t.counting;
      try {
        const response = await fetch(root.dataset.countUrl, {
          method: "POST",
          body,
          headers: { "X-CSRFToken": csrf ? csrf.value : "" },
          credentials: "same-origin",
        });
        const data = await response.json();
        if (data.errors) {
          const errors = Object.entries(data.errors).map(([k, v]) => `${k}: ${v.join(" ")}`);
          this.countText = this.t.invalid.replace("%(errors)s", errors.join("; "));
        } else {
          this.countText = this.t.members
            .replace("%(program)s", data.program)
            .replace("%(count)s", data.count);
        }
      } catch (e) {
        this.countText = "";
      }
    },
  }));
});
