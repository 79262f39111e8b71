/* Summit Bank's Pay with Points widget: the points slider and the resend countdown.
   Progressive enhancement only: without this script the plain form works and the server checks everything. */
(function () {
  "use strict";

  // Parse a decimal string like "0.004" into an exact fraction, so money never goes through float rounding.
  function fraction(text) {
    var parts = String(text).split(".");
    var decimals = parts[1] || "";
    return { numerator: parseInt(parts[0] + decimals, 10), denominator: Math.pow(10, decimals.length) };
  }

  function formatMoney(cents, symbol) {
    var sign = cents < 0 ? "-" : "";
    cents = Math.abs(cents);
    var dollars = Math.floor(cents / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var rest = String(cents % 100).padStart(2, "0");
    return sign + symbol + dollars + "." + rest;
  }

  function setUpPicker(form) {
    var rate = fraction(form.dataset.rate);
    var step = parseInt(form.dataset.increment, 10) || 1;
    var min = parseInt(form.dataset.min, 10) || 0;
    var max = parseInt(form.dataset.max, 10) || 0;
    var total = parseInt(form.dataset.total, 10) || 0;
    var symbol = form.dataset.symbol || "";
    var number = form.querySelector("input[name='points']");
    var range = form.querySelector("[data-points-range]");
    var credit = form.querySelector("[data-credit]");
    var net = form.querySelector("[data-net]");
    var useMax = form.querySelector("[data-use-max]");
    if (!number) {
      return;
    }

    function clamp(points) {
      if (isNaN(points)) {
        return min;
      }
      points = Math.min(Math.max(points, min), max);
      return points - ((points - 0) % step);
    }

    function show(points) {
      // credit in cents = points x rate x 100, exact with integers
      var cents = Math.round((points * rate.numerator * 100) / rate.denominator);
      credit.textContent = "\u2212 " + formatMoney(cents, symbol);
      net.textContent = formatMoney(total - cents, symbol);
    }

    if (range) {
      range.hidden = false;
      range.addEventListener("input", function () {
        number.value = range.value;
        show(parseInt(range.value, 10));
      });
    }
    number.addEventListener("input", function () {
      var points = parseInt(number.value, 10);
      if (!isNaN(points) && points >= min && points <= max) {
        if (range) {
          range.value = String(points);
        }
        show(points);
      }
    });
    number.addEventListener("change", function () {
      var points = clamp(parseInt(number.value, 10));
      number.value = String(points);
      if (range) {
        range.value = String(points);
      }
      show(points);
    });
    if (useMax) {
      useMax.addEventListener("click", function (event) {
        // With the script, "Use maximum" moves the control; "Use points" then confirms.
        event.preventDefault();
        number.value = String(max);
        if (range) {
          range.value = String(max);
        }
        show(max);
        number.focus();
      });
    }
    show(clamp(parseInt(number.value, 10)));
  }

  function setUpCountdown(note) {
    var seconds = parseInt(note.dataset.seconds, 10) || 0;
    var button = document.querySelector("[data-resend-button]");
    if (!button || seconds <= 0) {
      return;
    }
    var template = note.textContent;
    var current = String(seconds);
    button.disabled = true;
    var timer = window.setInterval(function () {
      seconds -= 1;
      if (seconds <= 0) {
        window.clearInterval(timer);
        button.disabled = false;
        note.textContent = note.dataset.readyText || "";
        note.setAttribute("role", "status");
        return;
      }
      note.textContent = template.replace(current, String(seconds));
    }, 1000);
  }

  document.querySelectorAll("[data-points-picker]").forEach(setUpPicker);
  document.querySelectorAll("[data-countdown]").forEach(setUpCountdown);
})();
