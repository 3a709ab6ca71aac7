/* Live preview of effective shares while weights are edited in the treatment inline.
   Mirrors the server's largest-remainder rounding over 10,000 slots, so what the editor sees
   is what the slot table will give. */
(function () {
  "use strict";
  var SLOTS = 10000;

  function rows() {
    var out = [];
    document.querySelectorAll(".glex-treatments tr.form-row, .glex-treatments .inline-related")
      .forEach(function (row) {
        var name = row.querySelector("input[name$='-name']");
        var weight = row.querySelector("input[name$='-weight']");
        var del = row.querySelector("input[name$='-DELETE']");
        if (!name || !weight || !name.value || (del && del.checked)) return;
        var w = Number(weight.value);
        out.push({ name: name.value, weight: isFinite(w) && w > 0 ? w : 0, bad: !isFinite(w) || w < 0 });
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

  function render() {
    var table = document.getElementById("glex-share-preview");
    if (!table) return;
    var items = rows();
    var pct = shares(items);
    var body = table.querySelector("tbody");
    body.textContent = "";
    items.forEach(function (item, i) {
      var tr = document.createElement("tr");
      var a = document.createElement("td");
      var b = document.createElement("td");
      a.textContent = item.name;
      b.textContent = item.bad ? "invalid weight" : pct[i].toFixed(2) + "%";
      b.className = "glex-share" + (item.bad ? " glex-invalid" : "");
      tr.appendChild(a); tr.appendChild(b); body.appendChild(tr);
    });
  }

  document.addEventListener("input", function (e) {
    if (e.target && e.target.name && /-(weight|name|DELETE)$/.test(e.target.name)) render();
  });
  document.addEventListener("change", function (e) {
    if (e.target && e.target.name && /-DELETE$/.test(e.target.name)) render();
  });
  document.addEventListener("DOMContentLoaded", render);
  document.addEventListener("formset:added", render);
  document.addEventListener("formset:removed", render);
})();
