package sakailab;

import jakarta.servlet.ServletContextEvent;
import jakarta.servlet.ServletContextListener;
import java.sql.Driver;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Collections;

/** Starts "Sakai" with the web app and stops it with it (the cluster row goes on a clean stop). */
public final class Startup implements ServletContextListener {
    private static final Log LOG = Log.get("org.sakaiproject.util.ContextLoaderListener");

    @Override
    public void contextInitialized(ServletContextEvent event) {
        try {
            Sakai.put(event.getServletContext(), new Sakai(Config.load(), System.currentTimeMillis()));
        } catch (Exception e) {
            // Like Sakai, log and keep Tomcat up; the pages then answer 500.
            LOG.error("contextInitialized(): " + e, e);
        }
    }

    @Override
    public void contextDestroyed(ServletContextEvent event) {
        Sakai sakai = Sakai.get(event.getServletContext());
        if (sakai != null) {
            sakai.stop();
        }
        // Unregister the driver this app registered, so Tomcat has no leak to warn about.
        for (Driver driver : Collections.list(DriverManager.getDrivers())) {
            if (driver.getClass().getClassLoader() == getClass().getClassLoader()) {
                try {
                    DriverManager.deregisterDriver(driver);
                } catch (SQLException e) {
                    LOG.warn("contextDestroyed(): " + e.getMessage());
                }
            }
        }
    }
}
