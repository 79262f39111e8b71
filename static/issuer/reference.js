// "Copy" buttons for the curl examples. Without JavaScript the buttons stay hidden and the text is selectable.
(function () {
  "use strict";

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function done(button, label) {
    var visible = button.firstChild;
    var original = visible.nodeValue;
    visible.nodeValue = label;
    window.setTimeout(function () { visible.nodeValue = original; }, 1500);
  }

  // The page's language: the script tag carries the translated words (data-copied, data-selected, data-select-hint).
  var script = document.currentScript;
  function word(name, fallback) {
    return (script && script.getAttribute(name)) || fallback;
  }
  var copied = word("data-copied", "Copied");
  var selected = word("data-selected", "Selected");
  var selectHint = word("data-select-hint", "Selected: press Ctrl+C");

  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy-target]"), function (button) {
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = target.textContent;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { done(button, copied); },
          function () { selectText(target); done(button, selected); }
        );
      } else {
        // Plain http on a LAN address is not a secure context: select the text for Ctrl+C instead.
        selectText(target);
        done(button, selectHint);
      }
    });
  });
})();
