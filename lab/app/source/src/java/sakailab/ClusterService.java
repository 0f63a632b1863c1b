package sakailab;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Sakai 2.4's SakaiClusterService: this node's row in SAKAI_CLUSTER, SERVER_ID =
 * serverId-startMillis, UPDATE_TIME refreshed every `refresh` seconds by a daemon thread; rows of
 * other nodes older than `expired` seconds are removed ("ghost-busting"); the row goes on a clean
 * shutdown.
 */
final class ClusterService implements Runnable {
    private static final Log LOG = Log.get("org.sakaiproject.cluster.impl.SakaiClusterService");
    private static final String KEYS = "@org.sakaiproject.cluster.api.ClusterService";
    private final Database db;
    private final int refresh;
    private final int expired;
    private final Thread thread = new Thread(this, "SakaiClusterService");
    final String serverIdInstance;

    ClusterService(Database db, Config config, String serverId, long startMillis) {
        this.db = db;
        this.refresh = Math.max(1, config.getInt("refresh" + KEYS, 60));
        this.expired = config.getInt("expired" + KEYS, 600);
        this.serverIdInstance = serverId + "-" + startMillis;
        LOG.info("init: refresh: " + refresh + " expired: " + expired + " ghostingPercent: "
                + config.getInt("ghostingPercent" + KEYS, 100));
    }

    /** With auto.ddl, Sakai ran mysql/sakai_cluster.sql; its first statement failing (table exists) is quiet. */
    static void createTable(Connection conn) {
        try {
            Database.execute(conn, "CREATE TABLE SAKAI_CLUSTER (SERVER_ID VARCHAR (64), UPDATE_TIME DATETIME,"
                    + " PRIMARY KEY (SERVER_ID)) ENGINE=InnoDB DEFAULT CHARSET=utf8");
        } catch (SQLException exists) {
            // fail quiet, as Sql.ddl() did
        }
    }

    void start() {
        try (Connection conn = db.connect()) {
            update(conn, "insert into SAKAI_CLUSTER (SERVER_ID, UPDATE_TIME) values (?, now())");
        } catch (SQLException e) {
            LOG.warn("init(): could not register " + serverIdInstance + ": " + Database.message(e));
        }
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public void run() {
        while (!Thread.currentThread().isInterrupted()) {
            try {
                Thread.sleep(refresh * 1000L);
            } catch (InterruptedException stop) {
                return;
            }
            try (Connection conn = db.connect()) {
                if (update(conn, "update SAKAI_CLUSTER set UPDATE_TIME = now() where SERVER_ID = ?") == 0) {
                    update(conn, "insert into SAKAI_CLUSTER (SERVER_ID, UPDATE_TIME) values (?, now())");
                    LOG.warn("run(): server has been closed in cluster table, reopened: " + serverIdInstance);
                }
                for (String ghost : ghosts(conn)) {
                    LOG.warn("run(): ghost-busting server: " + ghost + " from : " + serverIdInstance);
                    try (PreparedStatement st = conn.prepareStatement("delete from SAKAI_CLUSTER where SERVER_ID = ?")) {
                        st.setString(1, ghost);
                        st.executeUpdate();
                    }
                }
            } catch (SQLException e) {
                LOG.warn("run(): " + Database.message(e));
            }
        }
    }

    /** Stops the thread (bounded) and removes this node's row. */
    void stop() {
        thread.interrupt();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try (Connection conn = db.connect()) {
            update(conn, "delete from SAKAI_CLUSTER where SERVER_ID = ?");
        } catch (SQLException e) {
            LOG.warn("destroy(): could not remove " + serverIdInstance + ": " + Database.message(e));
        }
    }

    private List<String> ghosts(Connection conn) throws SQLException {
        List<String> ids = new ArrayList<>();
        String sql = "select SERVER_ID from SAKAI_CLUSTER where SERVER_ID <> ?"
                + " and UPDATE_TIME < now() - interval ? second";
        try (PreparedStatement st = conn.prepareStatement(sql)) {
            st.setString(1, serverIdInstance);
            st.setInt(2, expired);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getString(1));
                }
            }
        }
        return ids;
    }

    private int update(Connection conn, String sql) throws SQLException {
        try (PreparedStatement st = conn.prepareStatement(sql)) {
            st.setString(1, serverIdInstance);
            return st.executeUpdate();
        }
    }
}
