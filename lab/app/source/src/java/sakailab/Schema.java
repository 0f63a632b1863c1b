package sakailab;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * What this release's Hibernate mappings and DAOs expect of the database, read from the
 * release's mappings.txt (the Java is the same in every tag; that file is what differs).
 * Lines: "column TABLE NAME definition", "index TABLE NAME (columns)",
 * "foreignKey TABLE NAME (columns) references TABLE (columns)", "query CATEGORY sql".
 */
final class Schema {
    private static final Log HBM2DDL = Log.get("org.hibernate.tool.hbm2ddl.SchemaUpdate");
    private static final Log JDBC = Log.get("org.hibernate.util.JDBCExceptionReporter");
    private final List<String[]> entries = new ArrayList<>();

    static Schema load() throws IOException {
        Schema schema = new Schema();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(
                Schema.class.getResourceAsStream("/sakailab/mappings.txt"), StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                line = line.strip();
                if (!line.isEmpty() && !line.startsWith("#")) {
                    schema.entries.add(line.split("\\s+", line.startsWith("query") ? 3 : 4));
                }
            }
        }
        return schema;
    }

    /**
     * auto.ddl=true: Hibernate 3.1's SchemaUpdate (hbm2ddl "update"). It adds the columns and
     * indexes that are missing and never drops anything. Its INFO lines are hidden by Sakai's
     * log4j levels; only a failed statement shows, as the "Unsuccessful:" line and the
     * database's message.
     */
    void update(Connection conn) throws SQLException {
        for (String[] e : entries) {
            String sql;
            switch (e[0]) {
                case "column" -> sql = exists(conn, "COLUMNS", "COLUMN_NAME", e[1], e[2]) ? null
                        : "alter table " + e[1] + " add column " + e[2] + " " + e[3];
                case "index" -> sql = exists(conn, "STATISTICS", "INDEX_NAME", e[1], e[2]) ? null
                        : "create index " + e[2] + " on " + e[1] + " " + e[3];
                // Issued at every start, whether or not the key exists: Hibernate 3.1 did not
                // recognise the foreign keys that MySQL reported, so Sakai 2.4 re-issued them
                // and the database refused (the "known issue" of the 2007 upgrade plan).
                case "foreignKey" -> sql = "alter table " + e[1] + " add constraint " + e[2] + " foreign key " + e[3];
                default -> sql = null;
            }
            if (sql == null) {
                continue;
            }
            try {
                Database.execute(conn, sql);
            } catch (SQLException failed) {
                HBM2DDL.error("Unsuccessful: " + sql);
                HBM2DDL.error(Database.message(failed));
            }
        }
    }

    /**
     * Runs the release's queries; returns what failed ("table: message"). With log=true the
     * failures go to catalina.out the way Hibernate reported them, then as the service's ERROR.
     */
    List<String> check(Connection conn, boolean log) throws SQLException {
        List<String> problems = new ArrayList<>();
        for (String[] e : entries) {
            if (!e[0].equals("query")) {
                continue;
            }
            try {
                Database.count(conn, e[2]);
            } catch (SQLException failed) {
                if (!conn.isValid(5)) {
                    throw failed; // the database went away: not a schema problem
                }
                problems.add(Database.message(failed));
                if (log) {
                    JDBC.warn("SQL Error: " + failed.getErrorCode() + ", SQLState: " + failed.getSQLState());
                    JDBC.error(Database.message(failed));
                    Log.get(e[1]).error("init(): " + Database.message(failed) + " [" + e[2] + "]");
                }
            }
        }
        return problems;
    }

    private static boolean exists(Connection conn, String view, String column, String table, String name)
            throws SQLException {
        String sql = "select count(*) from information_schema." + view
                + " where TABLE_SCHEMA = database() and TABLE_NAME = ? and " + column + " = ?";
        try (PreparedStatement st = conn.prepareStatement(sql)) {
            st.setString(1, table);
            st.setString(2, name);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1) > 0;
            }
        }
    }
}
