/* Live preview of effective shares while weights are edited in the treatment inline: the
   "Effective shares" table and a share next to each weight input. Mirrors the server's
   largest-remainder rounding over 10,000 slots, so what the editor sees is what the slot table
   will give. Also gives each added treatment row the next order, so new rows go last. */
(function () {
  "use strict";
  var SLOTS = 10000;
  var ROWS = ".glex-treatments tr.form-row, .glex-treatments .inline-related";

  function treatmentRows() {
    return Array.prototype.filter.call(document.querySelectorAll(ROWS), function (row) {
      // Django's hidden template row for "Add another" is not a treatment.
      return !row.classList.contains("empty-form") && !/__prefix__/.test(row.id || "");
    });
  }

  function rows() {
    var out = [];
    treatmentRows().forEach(function (row) {
      var name = row.querySelector("input[name$='-name']");
      var weight = row.querySelector("input[name$='-weight']");
      var del = row.querySelector("input[name$='-DELETE']");
      if (!weight) return;
      var w = weight.value.trim() === "" ? NaN : Number(weight.value);
      var counted = name && name.value && !(del && del.checked);
      out.push({
        row: row,
        weightInput: weight,
        counted: Boolean(counted),
        name: name ? name.value : "",
        weight: isFinite(w) && w > 0 ? w : 0,
        bad: !isFinite(w) || w < 0
      });
    });
    return out;
  }

  function shares(items) {
    var total = items.reduce(function (s, r) { return s + r.weight; }, 0);
    if (total <= 0) return items.map(function () { return 0; });
    var quotas = items.map(function (r) { return r.weight * SLOTS / total; });
    var counts = quotas.map(Math.floor);
    var left = SLOTS - counts.reduce(function (a, b) { return a + b; }, 0);
    var order = quotas.map(function (q, i) { return i; })
      .sort(function (a, b) { return (quotas[b] - counts[b]) - (quotas[a] - counts[a]) || a - b; });
    for (var i = 0; i < left; i++) counts[order[i]] += 1;
    return counts.map(function (c) { return c * 100 / SLOTS; });
  }

  function label(item, pct) {
    if (item.bad) return "invalid weight";
    return pct.toFixed(2).replace(/\.?0+$/, "") + "%";
  }

  function rowShare(item) {
    var span = item.row.querySelector(".glex-row-share");
    if (!span) {
      span = document.createElement("span");
      span.setAttribute("aria-live", "polite");
      item.weightInput.insertAdjacentElement("afterend", span);
    }
    return span;
  }

  function render() {
    var all = rows();
    var counted = all.filter(function (item) { return item.counted && !item.bad; });
    var pct = shares(counted);
    var byRow = new Map();
    counted.forEach(function (item, i) { byRow.set(item.row, pct[i]); });

    all.forEach(function (item) {
      var span = rowShare(item);
      var share = byRow.get(item.row);
      span.className = "glex-row-share" + (item.bad ? " glex-invalid" : "");
      span.textContent = item.bad ? label(item, 0) : share === undefined ? "" : label(item, share);
    });

    var table = document.getElementById("glex-share-preview");
    if (!table) return;
    var body = table.querySelector("tbody");
    body.textContent = "";
    all.filter(function (item) { return item.counted; }).forEach(function (item) {
      var tr = document.createElement("tr");
      var a = document.createElement("td");
      var b = document.createElement("td");
      var share = byRow.get(item.row);
      a.textContent = item.name;
      b.textContent = label(item, share === undefined ? 0 : share);
      b.className = "glex-share" + (item.bad ? " glex-invalid" : "");
      tr.appendChild(a); tr.appendChild(b); body.appendChild(tr);
    });
  }

  function giveNextOrder(row) {
    var input = row && row.querySelector && row.querySelector("input[name$='-order']");
    if (!input || (input.value !== "" && input.value !== "0")) return;
    var highest = -1;
    treatmentRows().forEach(function (other) {
      if (other === row) return;
      var o = other.querySelector("input[name$='-order']");
      var n = o ? Number(o.value) : NaN;
      if (isFinite(n) && n > highest) highest = n;
    });
    input.value = String(highest + 1);
  }

  document.addEventListener("input", function (e) {
    if (e.target && e.target.name && /-(weight|name|DELETE)$/.test(e.target.name)) render();
  });
  document.addEventListener("change", function (e) {
    if (e.target && e.target.name && /-DELETE$/.test(e.target.name)) render();
  });
  document.addEventListener("DOMContentLoaded", render);
  document.addEventListener("formset:added", function (e) {
    giveNextOrder(e.target);
    render();
  });
  document.addEventListener("formset:removed", render);
})();
