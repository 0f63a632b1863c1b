package sakailab;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * /portal/health for machines: "key=value" lines, or JSON with ?format=json or
 * Accept: application/json. 200 when the database and schema are fine, else 500.
 */
public final class HealthServlet extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        Sakai sakai = Sakai.get(getServletContext());
        Map<String, String> fields = new LinkedHashMap<>();
        Sakai.Health health = sakai == null ? new Sakai.Health(false, "error: Sakai did not start") : sakai.check(false);
        fields.put("status", health.ok() ? "ok" : "error");
        fields.put("version", sakai == null ? "" : sakai.version);
        fields.put("tag", sakai == null ? "" : sakai.tag);
        fields.put("serverId", sakai == null ? "" : sakai.serverId);
        fields.put("serverIdInstance", sakai == null || sakai.cluster == null ? "" : sakai.cluster.serverIdInstance);
        fields.put("db", health.db());
        resp.setStatus(health.ok() ? 200 : 500);
        String accept = String.valueOf(req.getHeader("Accept"));
        StringBuilder out = new StringBuilder();
        if ("json".equals(req.getParameter("format")) || accept.contains("application/json")) {
            resp.setContentType("application/json;charset=UTF-8");
            fields.forEach((k, v) -> out.append(out.length() == 0 ? "{" : ", ").append(json(k)).append(": ").append(json(v)));
            out.append("}\n");
        } else {
            resp.setContentType("text/plain;charset=UTF-8");
            fields.forEach((k, v) -> out.append(k).append('=').append(v).append('\n'));
        }
        resp.getWriter().write(out.toString());
    }

    private static String json(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                default -> out.append(c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c));
            }
        }
        return out.append('"').toString();
    }
}
