package sakailab;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Base64;

/**
 * /portal/xlogin, the deeper health page: GET checks the database including SAKAI_USER and shows
 * the login form; POST checks eid and pw against SAKAI_USER (PW = base64 of MD5). No session is
 * kept: a good login answers 200, a bad one 401.
 */
public final class LoginServlet extends HttpServlet {
    private static final long serialVersionUID = 1L;

    private static final String FORM = "<form id=\"loginForm\" method=\"post\" action=\"/portal/xlogin\">\n"
            + "<label for=\"eid\">user id</label> <input type=\"text\" id=\"eid\" name=\"eid\"/>\n"
            + "<label for=\"pw\">password</label> <input type=\"password\" id=\"pw\" name=\"pw\"/>\n"
            + "<input type=\"submit\" name=\"submit\" value=\"Log In\"/>\n</form>";

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        Sakai sakai = Sakai.get(getServletContext());
        Sakai.Health health = sakai == null ? new Sakai.Health(false, "error: Sakai did not start") : sakai.check(true);
        String body = "<h1>Login</h1>\n" + FORM + "\n<p id=\"db\">database: " + Html.escape(health.db()) + "</p>";
        Html.page(resp, health.ok() ? 200 : 500, sakai, "Login", body);
    }

    @Override
    protected void doPost(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        Sakai sakai = Sakai.get(getServletContext());
        String eid = String.valueOf(req.getParameter("eid"));
        String sql = "select u.PW from SAKAI_USER u join SAKAI_USER_ID_MAP m on m.USER_ID = u.USER_ID where m.EID = ?";
        try (Connection conn = sakai.db.connect(); PreparedStatement st = conn.prepareStatement(sql)) {
            st.setString(1, eid);
            try (ResultSet rs = st.executeQuery()) {
                if (rs.next() && hash(String.valueOf(req.getParameter("pw"))).equals(rs.getString(1))) {
                    Html.page(resp, 200, sakai, "Home", "<h1>Logged in: " + Html.escape(eid) + "</h1>");
                } else {
                    Html.page(resp, 401, sakai, "Login", "<p class=\"alertMessage\">Invalid login</p>\n" + FORM);
                }
            }
        } catch (SQLException | RuntimeException e) {
            String message = e instanceof SQLException s ? Database.message(s) : String.valueOf(e);
            Html.page(resp, 500, sakai, "Login", "<p class=\"alertMessage\">database: " + Html.escape(message) + "</p>");
        }
    }

    private static String hash(String clear) {
        try {
            byte[] md5 = MessageDigest.getInstance("MD5").digest(clear.getBytes(StandardCharsets.UTF_8));
            return Base64.getEncoder().encodeToString(md5);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
