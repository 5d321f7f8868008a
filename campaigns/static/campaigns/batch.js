/* Manual Batch Processing: the config form's live preview and the Stop confirmation.
 * The arithmetic repeats campaigns/batch_forms.py (preview, format_hms); keep them in step. */
(function () {
  "use strict";

  function roundHalfUp(value) {
    return Math.floor(value + 0.5);
  }

  function hms(seconds) {
    var total = Math.max(roundHalfUp(seconds), 0);
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var secs = total % 60;
    return hours + ":" + String(minutes).padStart(2, "0") + ":" + String(secs).padStart(2, "0");
  }

  function value(form, name) {
    var input = form.elements[name];
    if (!input || input.value.trim() === "" || !/^\d+$/.test(input.value.trim())) {
      return null;
    }
    var number = parseInt(input.value, 10);
    var min = parseInt(input.min, 10);
    var max = parseInt(input.max, 10);
    return number >= min && number <= max ? number : null;
  }

  function show(id, text) {
    var element = document.getElementById(id);
    if (element) {
      element.textContent = text;
    }
  }

  function updatePreview(form) {
    var pending = parseInt(form.dataset.pending, 10) || 0;
    var batchSeconds = parseFloat(form.dataset.batchSeconds) || 0;
    var size = value(form, "batch_size");
    var delay = value(form, "delay_seconds");
    var outside = document.getElementById("preview-outside");
    if (size === null || delay === null || value(form, "max_retries") === null) {
      show("preview-batches", "—");
      show("preview-duration", "—");
      show("preview-rate", "—");
      if (outside) {
        outside.hidden = true;
      }
      return;
    }
    var batches = pending > 0 ? Math.ceil(pending / size) : 0;
    var duration = batches * batchSeconds + Math.max(batches - 1, 0) * delay;
    show("preview-batches", String(batches));
    show("preview-duration", hms(duration));
    show("preview-rate", String(roundHalfUp((size * 60) / (delay + batchSeconds))));
    if (outside) {
      var low = parseInt(form.dataset.recommendedMin, 10);
      var high = parseInt(form.dataset.recommendedMax, 10);
      outside.hidden = size >= low && size <= high;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("batch-config-form");
    if (form) {
      form.addEventListener("input", function () {
        updatePreview(form);
      });
      updatePreview(form);
    }
  });

  // Delegated, so it also covers forms that htmx swaps in.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.dataset ? form.dataset.confirm : "";
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
