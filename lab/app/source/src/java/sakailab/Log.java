package sakailab;

import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;

/**
 * Sakai 2.4's log4j layout, "%p: %m (%d %t_%c)%n", written to stdout (Tomcat's catalina.out).
 * For example: {@code INFO: init() (2007-08-18 09:41:02,120 main_org.sakaiproject.component.impl.BasicConfigurationService)}.
 * The category is the real Sakai or Hibernate class that printed the message in 2007.
 */
final class Log {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss,SSS");
    private final String category;

    private Log(String category) {
        this.category = category;
    }

    static Log get(String category) {
        return new Log(category);
    }

    void info(String message) {
        write("INFO", message, null);
    }

    void warn(String message) {
        write("WARN", message, null);
    }

    void error(String message) {
        write("ERROR", message, null);
    }

    void error(String message, Throwable trace) {
        write("ERROR", message, trace);
    }

    // One lock for all loggers, so that lines of two threads never interleave.
    private void write(String level, String message, Throwable trace) {
        String line = level + ": " + message + " (" + LocalDateTime.now().format(TIME) + " "
                + Thread.currentThread().getName() + "_" + category + ")";
        synchronized (Log.class) {
            System.out.println(line);
            if (trace != null) {
                trace.printStackTrace(System.out);
            }
            System.out.flush();
        }
    }
}
