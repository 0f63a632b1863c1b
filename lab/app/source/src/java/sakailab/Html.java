package sakailab;

import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/** The portal's page frame (title, body, the footer with version and server) and escaping. */
final class Html {
    private Html() {}

    static void page(HttpServletResponse resp, int status, Sakai sakai, String title, String body)
            throws IOException {
        String service = sakai == null ? "Sakai" : sakai.config.get("ui.service", "Sakai");
        String footer = sakai == null ? "Sakai" : "Sakai " + sakai.version + " (" + sakai.tag + ") - Server "
                + sakai.serverId;
        resp.setStatus(status);
        resp.setContentType("text/html;charset=UTF-8");
        resp.getWriter().write("<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\""
                + " \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n"
                + "<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><title>" + escape(service) + " : "
                + escape(title) + "</title></head>\n<body>\n<div id=\"portalOuterContainer\">\n"
                + body + "\n<div id=\"footer\"><p>Powered by Sakai</p><p class=\"sakaiServerIdInfo\">"
                + escape(footer) + "</p></div>\n</div>\n</body></html>\n");
    }

    static String escape(String text) {
        return String.valueOf(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace("\"", "&quot;");
    }
}
