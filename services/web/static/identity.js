// Checks a Norwegian identity number's two check digits (modulus 11) as it is typed, and
// says what is wrong next to the field; the referral service checks it again on submit.
(function () {
  "use strict";
  var WEIGHTS_1 = [3, 7, 6, 1, 8, 9, 4, 5, 2];
  var WEIGHTS_2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

  function checkDigit(digits, weights) {
    var sum = 0;
    for (var i = 0; i < weights.length; i++) sum += Number(digits[i]) * weights[i];
    var rest = 11 - (sum % 11);
    return rest === 11 ? 0 : rest; // 10 means no valid number has these first digits
  }

  function problem(value) {
    var digits = value.replace(/[\s-]/g, "");
    if (digits.length === 0) return null;
    if (!/^\d+$/.test(digits) || digits.length !== 11) return digits.length >= 11 || /\D/.test(digits) ? "length" : null;
    if (checkDigit(digits, WEIGHTS_1) !== Number(digits[9])) return "wrong";
    if (checkDigit(digits, WEIGHTS_2) !== Number(digits[10])) return "wrong";
    return null;
  }

  document.querySelectorAll("input[data-check=identity-number]").forEach(function (input) {
    var hint = document.getElementById(input.id + "-hint");
    input.addEventListener("input", function () {
      var found = problem(input.value);
      hint.textContent = found ? hint.dataset[found] : "";
      if (found) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    });
  });
})();
