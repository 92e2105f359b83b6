// Starts Swagger UI on the API description (served from the installed npm package, not a CDN).
"use strict";

window.addEventListener("load", function () {
  if (typeof window.SwaggerUIBundle !== "function") {
    document.getElementById("swagger-ui").textContent =
      "Swagger UI is not installed (run web/build); the description is at /api/openapi.json.";
    return;
  }
  window.SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
