package sakailab;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/** /portal and /portal/site/!gateway: the gateway site; 500 when the database or schema is wrong. */
public final class GatewayServlet extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        String path = req.getPathInfo();
        if (path != null && !path.equals("/") && !path.startsWith("/site/")) {
            resp.sendError(HttpServletResponse.SC_NOT_FOUND);
            return;
        }
        Sakai sakai = Sakai.get(getServletContext());
        if (sakai == null) {
            Html.page(resp, 500, null, "Error", "<h1>Sakai did not start: see catalina.out</h1>");
            return;
        }
        Sakai.Health health = sakai.check(false);
        String body = "<h1>Welcome to " + Html.escape(sakai.config.get("ui.service", "Sakai")) + "</h1>\n"
                + "<p>Sakai " + Html.escape(sakai.version) + "</p>\n"
                + "<p id=\"serverId\">serverId: " + Html.escape(sakai.serverId) + "</p>\n"
                + "<p id=\"db\">database: " + Html.escape(health.db()) + "</p>\n"
                + "<p><a href=\"/portal/xlogin\">Login</a></p>";
        Html.page(resp, health.ok() ? 200 : 500, sakai, "Gateway : Welcome", body);
    }
}
