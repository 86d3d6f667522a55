/* The report's map (Leaflet, offline base layers) and its sortable, filterable table. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("map-data").textContent);
  var lab = JSON.parse(document.getElementById("labels").textContent);
  var report = (window.__report = { layers: {}, mapReady: false });

  function esc(value) {
    var div = document.createElement("div");
    div.textContent = value === null || value === undefined ? "" : String(value);
    return div.innerHTML;
  }
  function popup(props) {
    var rows = Object.keys(props).map(function (k) {
      return "<tr><td>" + esc(lab[k] || k) + "</td><td>" + esc(props[k]) + "</td></tr>";
    });
    return '<table class="popup">' + rows.join("") + "</table>";
  }
  var palette = ["#e6550d", "#3182bd", "#31a354", "#756bb1", "#636363", "#fd8d3c", "#6baed6", "#74c476",
                 "#9e9ac8", "#969696", "#a63603", "#08519c", "#006d2c", "#54278f", "#fdae6b", "#c6dbef",
                 "#bcbddc", "#d94801", "#7f2704", "#252525"];  // 20 apart: no colour repeats in the legend
  var colourOf = {};
  var legend = { findings: {}, sites: {} };  // layer -> code -> [colour, label]
  function colour(key) {
    if (!(key in colourOf)) colourOf[key] = palette[Object.keys(colourOf).length % palette.length];
    return colourOf[key];
  }
  function coded(layer, code, text) {
    var c = colour(code);
    legend[layer][code] = [c, text || code];
    return c;
  }
  function first(value) { return (value || "").split(";")[0]; }

  if (data && document.getElementById("map")) {
    var map = L.map("map", { preferCanvas: true });
    var overlays = {};
    var tiles = JSON.parse(document.getElementById("tiles").textContent);
    if (tiles) overlays["tiles"] = L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);  // an option: online
    var bounds = null;
    var specs = [
      ["districts", function () { return { color: "#444", weight: 1.5, fill: false }; }],
      ["parks", function () { return { color: "#888", weight: 1, fillColor: "#ddd", fillOpacity: 0.3 }; }],
      ["findings", function (f) {
        var p = f.properties;
        return { color: coded("findings", first(p.finding_codes), first(p.finding_codes_label)), weight: 0.5, fillOpacity: 0.5 };
      }],
      ["sites", function (f) {
        var p = f.properties;
        return { color: coded("sites", p.source || "", p.source_label), weight: 1.5, fillOpacity: p.placed ? 0.7 : 0.25 };
      }],
      ["projects", null],
    ];
    specs.forEach(function (spec) {
      var key = spec[0];
      if (!data[key]) return;
      var layer = L.geoJSON(data[key], {
        style: spec[1] || undefined,
        pointToLayer: function (f, latlng) {
          return L.circleMarker(latlng, { radius: 4, color: "#08519c", weight: 1, fillColor: "#fdd49e", fillOpacity: 0.9 });
        },
        onEachFeature: function (f, l) {
          l.bindPopup(popup(f.properties));
          if (key === "districts") {  // the district's name on the map
            l.bindTooltip(esc(f.properties.district_label || f.properties.district),
                          { permanent: true, direction: "center", className: "district-name" });
          }
        },
      }).addTo(map);
      overlays[lab[key === "projects" ? "projects_layer" : key] || key] = layer;
      report.layers[key] = layer;
      var b = layer.getBounds();
      if (b.isValid()) bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
    });
    if (bounds) map.fitBounds(bounds);
    else map.setView([35, 117], 9);
    L.control.layers(null, overlays, { collapsed: false }).addTo(map);
    var key = L.control({ position: "bottomright" });
    key.onAdd = function () {  // a legend entry for every colour on the map
      var div = L.DomUtil.create("div", "legend");
      var html = ['<div><span class="swatch line"></span>' + esc(lab.districts) + "</div>",
                  '<div><span class="swatch" style="background:#ddd"></span>' + esc(lab.parks) + "</div>"];
      [["findings", lab.findings], ["sites", lab.sites]].forEach(function (group) {
        var codes = Object.keys(legend[group[0]]).sort();
        if (!codes.length) return;
        html.push("<b>" + esc(group[1]) + "</b>");
        codes.forEach(function (code) {
          var entry = legend[group[0]][code];
          html.push('<div data-code="' + esc(code) + '" data-colour="' + entry[0] + '"><span class="swatch" style="background:' + entry[0] + '"></span>' + esc(entry[1]) + "</div>");
        });
      });
      if (data.projects) html.push('<div><span class="swatch dot"></span>' + esc(lab.projects_layer) + "</div>");
      div.innerHTML = html.join("");
      return div;
    };
    key.addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    report.map = map;
    report.mapReady = true;
  }

  var table = document.getElementById("projects");
  if (!table) return;
  var body = table.tBodies[0];
  var filter = document.getElementById("filter");
  var status = document.getElementById("status-filter");
  var shown = document.getElementById("shown-count");
  function apply() {
    var text = filter.value.trim().toLowerCase();
    var wanted = status.value;
    var n = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var ok = (!wanted || row.dataset.status === wanted) && (!text || row.textContent.toLowerCase().indexOf(text) >= 0);
      row.hidden = !ok;
      if (ok) n += 1;
    });
    shown.textContent = n;
  }
  var panel = document.getElementById("explanation");
  body.addEventListener("click", function (event) {  // a project's explanation, on click
    var row = event.target.closest("tr");
    if (!row) return;
    var reason = row.cells[row.cells.length - 1];
    panel.innerHTML = "<b>" + esc(row.cells[0].textContent + " " + row.cells[1].textContent) + "</b>：" + esc(reason.title);
    panel.hidden = false;
    panel.dataset.project = row.cells[0].textContent;
  });
  filter.addEventListener("input", apply);
  status.addEventListener("change", apply);
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    th.addEventListener("click", function () {
      var col = Number(th.dataset.col);
      var numeric = th.dataset.type === "num";
      var dir = th.classList.contains("sorted-asc") ? -1 : 1;
      Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.classList.remove("sorted-asc", "sorted-desc"); });
      th.classList.add(dir === 1 ? "sorted-asc" : "sorted-desc");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col], y = b.cells[col];
        if (numeric) {
          var p = parseFloat(x.dataset.value || x.textContent.replace(/,/g, "")), q = parseFloat(y.dataset.value || y.textContent.replace(/,/g, ""));
          p = isNaN(p) ? -Infinity : p; q = isNaN(q) ? -Infinity : q;
          return dir * (p - q);
        }
        return dir * x.textContent.localeCompare(y.textContent, "zh");
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
