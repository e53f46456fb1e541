// Starts the vendored Swagger UI on this gateway's OpenAPI document (kept out of the HTML so
// the page runs under the strict Content-Security-Policy).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || !window.SwaggerUIBundle) return;
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // No badge that would call validator.swagger.io.
    validatorUrl: null,
  });
})();
