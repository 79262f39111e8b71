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
          function () { done(button, "Copied"); },
          function () { selectText(target); done(button, "Selected"); }
        );
      } else {
        // Plain http on a LAN address is not a secure context: select the text for Ctrl+C instead.
        selectText(target);
        done(button, "Selected: press Ctrl+C");
      }
    });
  });
})();
