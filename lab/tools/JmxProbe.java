// A JMX client, as JConsole connects: reads Catalina:type=Server serverInfo from HOST:PORT.
//   java JmxProbe.java HOST PORT [SECONDS]     (default bound 10 s)
// Exit 0 and the serverInfo on stdout; 1 on a refused/failed connection; 3 when the bound passed
// (a firewall that drops packets makes RMI wait forever without one).
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

public class JmxProbe {
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: java JmxProbe.java HOST PORT [SECONDS]");
            System.exit(2);
        }
        String where = args[0] + ":" + args[1];
        int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        System.setProperty("sun.rmi.transport.tcp.responseTimeout", String.valueOf(seconds * 1000));
        System.setProperty("sun.rmi.transport.proxy.connectTimeout", String.valueOf(seconds * 1000));
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://" + where + "/jmxrmi");
        ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        Future<String> info = pool.submit(() -> {
            try (JMXConnector c = JMXConnectorFactory.connect(url)) {
                return (String) c.getMBeanServerConnection()
                        .getAttribute(new ObjectName("Catalina:type=Server"), "serverInfo");
            }
        });
        try {
            System.out.println(info.get(seconds, TimeUnit.SECONDS));
            System.exit(0);
        } catch (TimeoutException e) {
            System.err.println("JmxProbe: no answer from " + where + " within " + seconds + "s");
            System.exit(3);
        } catch (ExecutionException e) {
            System.err.println("JmxProbe: " + where + ": " + e.getCause());
            System.exit(1);
        }
    }
}
