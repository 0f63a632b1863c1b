package sakailab;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

/**
 * Connections made from the Sakai keys url@, username@, password@ and driverClassName@
 * javax.sql.BaseDataSource. No pool: each use opens a connection, bounded by connect and socket
 * timeouts, so that a page answers within seconds even when the database host is gone.
 */
final class Database {
    private static final String BEAN = "@javax.sql.BaseDataSource";
    private final String url;
    private final Properties login = new Properties();
    final String vendor;

    Database(Config config) throws ClassNotFoundException {
        url = config.get("url" + BEAN, "");
        vendor = config.get("vendor@org.sakaiproject.db.api.SqlService", "mysql");
        login.setProperty("user", config.get("username" + BEAN, ""));
        login.setProperty("password", config.get("password" + BEAN, ""));
        // Milliseconds; a timeout written in the url wins.
        if (!url.contains("connectTimeout")) {
            login.setProperty("connectTimeout", "5000");
        }
        if (!url.contains("socketTimeout")) {
            login.setProperty("socketTimeout", "20000");
        }
        Class.forName(config.get("driverClassName" + BEAN, "org.mariadb.jdbc.Driver"));
    }

    Connection connect() throws SQLException {
        Connection conn = DriverManager.getConnection(url, login);
        conn.setAutoCommit(true);
        return conn;
    }

    static long count(Connection conn, String sql) throws SQLException {
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    static void execute(Connection conn, String sql) throws SQLException {
        try (Statement st = conn.createStatement()) {
            st.execute(sql);
        }
    }

    /** The database's own message, without the driver's "(conn=N) " prefix. */
    static String message(SQLException e) {
        String text = String.valueOf(e.getMessage());
        return text.startsWith("(conn=") && text.contains(") ") ? text.substring(text.indexOf(") ") + 2) : text;
    }
}
