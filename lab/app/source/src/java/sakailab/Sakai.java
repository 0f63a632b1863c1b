package sakailab;

import jakarta.servlet.ServletContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;

/** The running "Sakai": configuration, database, schema and cluster row, shared by the servlets. */
final class Sakai {
    private static final String ATTRIBUTE = Sakai.class.getName();
    private static final Log SQL = Log.get("org.sakaiproject.db.impl.BasicSqlService");
    final Config config;
    final String version;
    final String tag;
    final String serverId;
    final Schema schema;
    final Database db; // null when the JDBC driver cannot be loaded
    final ClusterService cluster;

    /** What a page reports about the database: ok, or the problem in the database's words. */
    record Health(boolean ok, String db) {}

    /** Startup, in the order (and with the log lines) of Sakai 2.4's component manager. */
    Sakai(Config config, long startMillis) throws java.io.IOException {
        this.config = config;
        version = config.get("version.sakai", "unknown");
        tag = config.get("release.tag", "unknown");
        serverId = config.serverId();
        injectedFault(config.sakaiHome);
        Log.get("org.sakaiproject.component.impl.BasicConfigurationService").info("init()");
        schema = Schema.load();
        db = loadDriver(config);
        boolean autoDdl = config.getBoolean("auto.ddl");
        SQL.info("init(): vendor: " + (db == null ? "none" : db.vendor) + " autoDDL: " + autoDdl
                + " deadlockRetries: 5");
        if (db == null) {
            cluster = null;
            return;
        }
        try (Connection conn = db.connect()) {
            if (autoDdl) {
                ClusterService.createTable(conn);
                schema.update(conn);
            }
            schema.check(conn, true);
        } catch (SQLException e) {
            SQL.error("init(): cannot reach the database: " + Database.message(e));
        }
        cluster = new ClusterService(db, config, serverId, startMillis);
        cluster.start();
    }

    static void put(ServletContext context, Sakai sakai) {
        context.setAttribute(ATTRIBUTE, sakai);
    }

    static Sakai get(ServletContext context) {
        return (Sakai) context.getAttribute(ATTRIBUTE);
    }

    /** Database health: reachable and the release's queries run; `deep` also reads SAKAI_USER. */
    Health check(boolean deep) {
        if (db == null) {
            return new Health(false, "error: no JDBC driver");
        }
        try (Connection conn = db.connect()) {
            List<String> problems = schema.check(conn, false);
            if (!problems.isEmpty()) {
                return new Health(false, "error: schema: " + String.join("; ", problems));
            }
            if (deep) {
                Database.count(conn, "select count(*) from SAKAI_USER");
            }
            return new Health(true, "ok");
        } catch (SQLException e) {
            return new Health(false, "error: " + Database.message(e));
        }
    }

    void stop() {
        if (cluster != null) {
            cluster.stop();
        }
    }

    private static Database loadDriver(Config config) {
        try {
            return new Database(config);
        } catch (ClassNotFoundException e) {
            SQL.error("init(): JDBC driver not found: " + e.getMessage());
            return null;
        }
    }

    /**
     * Rehearsal-lab fault: when ${sakai.home}inject-startup-error exists, log an unexpected ERROR
     * with a stack trace, as a broken component would, and go on starting. The file is left in
     * place: the fault lasts until someone removes it.
     */
    private static void injectedFault(String sakaiHome) {
        Path marker = Path.of(sakaiHome + "inject-startup-error");
        if (Files.exists(marker)) {
            try {
                throw new IllegalStateException("rehearsal fault: " + marker + " exists; remove it to clear");
            } catch (IllegalStateException e) {
                Log.get("org.sakaiproject.component.impl.SpringCompMgr").error("init(): unexpected error", e);
            }
        }
    }
}
